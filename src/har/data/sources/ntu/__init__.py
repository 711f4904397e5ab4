"""data/sources/ntu"""
