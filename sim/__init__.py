"""Simulation layer of lowbit: the simpy engine that runs a schedule on modelled blocks
(DMA, SRAM, MAC array, vector unit, DRAM). Imports only ``mapping`` and ``hw``."""
