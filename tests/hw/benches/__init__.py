"""cocotb benches run on exported Verilog through ``hw.flow.run_cocotb``. Units and arrays are
checked by the bench generated with every export (``hw.flow.tbkit``: driver, monitor, checker;
``tests/hw/test_units_cocotb.py``, ``test_arrays_verilator.py``); the benches here share its
clock and reset."""
