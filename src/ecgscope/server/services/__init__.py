"""What the routes call: record storage, analysis (the only caller of ``ecgscope.inference``), reports."""
