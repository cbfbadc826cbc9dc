return cas(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], ARGV[3], {unpack(ARGV, 4)})
