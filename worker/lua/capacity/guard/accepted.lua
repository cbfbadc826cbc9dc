return accepted(KEYS[1], KEYS[2], ARGV[1])
