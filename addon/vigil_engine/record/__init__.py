"""Recording: remuxed MP4 segments, clip assembly, retention and quota."""
