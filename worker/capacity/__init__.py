"""How many jobs an account may run: the slot guard (Lua on Redis), rotation, counters."""
