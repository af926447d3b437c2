"""BPMN 2.0 import and export of journeys, with the `xflow` extension (schemas/xflow-lifecycle.xsd).

Pure transformation, free of the database and HTTP: `import_bpmn` maps a BPMN document onto a
journey (every element outside the supported subset reported at once, then the journey's own
validation), `export_bpmn` writes any journey as BPMN with diagram interchange coordinates.
"""

from journey.bpmn.exporter import export_bpmn
from journey.bpmn.importer import BpmnImport, import_bpmn
from journey.bpmn.problems import BpmnProblem
from journey.bpmn.xml import BpmnSyntaxError

__all__ = ["BpmnImport", "BpmnProblem", "BpmnSyntaxError", "export_bpmn", "import_bpmn"]
