"""dfdemo's lab: the tools that make, measure and time a detector (crop cache, training, the
temporal head, evaluation, calibration, heatmap faithfulness, benchmarks).

The lab imports the product library ``dfdemo``; ``dfdemo`` never imports the lab. Run a tool
with ``python -m dfdemo_lab NAME [options]`` (``python -m dfdemo_lab --help`` lists them).
"""
