return note(KEYS[1], ARGV[1], ARGV[2], {unpack(ARGV, 3)})
