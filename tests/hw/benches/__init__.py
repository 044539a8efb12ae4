"""cocotb benches run on the exported Verilog through ``hw.flow.run_cocotb``."""
