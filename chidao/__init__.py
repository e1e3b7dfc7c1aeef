"""chidao: cascade an official directive down Vietnam's administrative hierarchy."""

__version__ = "0.1.0"
