"""A local TTAPI Midjourney API: real endpoints, envelope quirks, cap/rate rules, faults, stats.

Use `with Simulator(SimConfig(keys=["k1"], fast_s=1.0)) as sim:` and `sim.url` as TTAPI's base URL.
"""

from worker.devtools.simulator.config import Faults, SimConfig
from worker.devtools.simulator.simulator import Simulator

__all__ = ["Faults", "SimConfig", "Simulator"]
