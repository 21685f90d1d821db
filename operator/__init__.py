"""trodden.operator: kopf handlers, pure builders of owned objects, status/conditions, feedback."""
