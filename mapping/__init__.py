"""Mapping layer of lowbit: workloads from model configs, quantization recipes, and the mapper
that turns a workload into a schedule of tiles for the simulator. Imports only ``hw``."""
