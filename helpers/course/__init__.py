"""What the notebooks use to teach, apart from the method itself.

- ``exercises`` checks for the notebooks' exercises: run the student's code on inputs they make, say what is
  wrong in words
- ``measure``   judges the optimisation does not see: style distance and layout kept
- ``diagram``   a drawing of the whole method (``draw_method_diagram``), for notebook 04
- ``studio``    the sliders of notebook 10 (needs ipywidgets: ``from helpers.course.studio import Studio``)
"""

from . import diagram, exercises, measure  # noqa: F401  so that helpers.course.measure works after `import helpers`
