"""har: learn to simulate wearable IMU from video pose; train activity classifiers on both."""

__version__ = "0.1.0"
