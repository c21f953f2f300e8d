"""The product version, shown on the about page and by `hotline version`."""
__version__ = "0.1.0"
