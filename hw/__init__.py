"""Hardware layer of lowbit: number formats and golden arithmetic, Amaranth units and arrays,
Verilog export, synthesis flow and cost characterisation.

``hw`` imports nothing of ``mapping``, ``sim`` or ``reports`` (the layer rule of DESIGN.md).
"""
