"""data/sources/mmfit"""
