"""mkdocs hook: the HTTP reference page, written from the OpenAPI document the app serves.

The document is the contract, so the page is built from it and from nothing
else: the hook builds the app with ``binroute.api.service.create_app`` on a
throw-away SQLite database (no jobs resumed), fetches ``/api/v1/openapi.json``
from its test client, and renders every operation (parameters, request body,
answers) and every schema as Markdown, appended to ``reference/http.md``
below its hand-written introduction.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

PAGE = "reference/http.md"
METHODS = ("get", "post", "put", "patch", "delete")
_document: dict[str, Any] | None = None


def served_document() -> dict[str, Any]:
    """The OpenAPI document as the app serves it, fetched once per build process."""
    global _document
    if _document is None:
        from binroute.api.service import create_app

        with tempfile.TemporaryDirectory() as tmp:
            app = create_app(
                {
                    "TESTING": True,
                    "DATABASE_URL": f"sqlite:///{Path(tmp) / 'docs.sqlite3'}",
                    "DATA_DIR": str(Path(tmp) / "data"),
                    "RESUME_JOBS": False,
                }
            )
            try:
                answer = app.test_client().get("/api/v1/openapi.json")
                if answer.status_code != 200:
                    raise RuntimeError(f"/api/v1/openapi.json answered {answer.status_code}")
                _document = json.loads(answer.get_data(as_text=True))
            finally:
                app.extensions["binroute"]["engine"].dispose()
    return _document


def _cell(text: Any) -> str:
    """Text safe for one Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ").strip()


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def schema_type(schema: dict[str, Any]) -> str:
    """A short description of a JSON schema's type: ``integer (1–500)``, ``[PlanOut](#planout)``, ..."""
    if "$ref" in schema:
        name = _ref_name(schema["$ref"])
        return f"[{name}](#{name.lower()})"
    if "anyOf" in schema or "oneOf" in schema:
        options = [schema_type(s) for s in schema.get("anyOf", schema.get("oneOf", []))]
        return " or ".join(options)
    if "enum" in schema:
        return "one of " + ", ".join(f"`{v}`" for v in schema["enum"])
    if "const" in schema:
        return f"`{schema['const']}`"
    kind = schema.get("type", "any")
    if isinstance(kind, list):
        kind = " or ".join(kind)
    if kind == "array":
        return f"array of {schema_type(schema.get('items', {}))}"
    if kind == "object" and "additionalProperties" in schema and isinstance(schema["additionalProperties"], dict):
        return f"object of {schema_type(schema['additionalProperties'])}"
    bounds = []
    if "minimum" in schema or "exclusiveMinimum" in schema:
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        bounds.append(f"{'>' if 'exclusiveMinimum' in schema else '≥'} {low}")
    if "maximum" in schema or "exclusiveMaximum" in schema:
        high = schema.get("maximum", schema.get("exclusiveMaximum"))
        bounds.append(f"{'<' if 'exclusiveMaximum' in schema else '≤'} {high}")
    if "minLength" in schema or "maxLength" in schema:
        bounds.append(f"length {schema.get('minLength', 0)}–{schema.get('maxLength', '')}".rstrip("–"))
    if "format" in schema:
        kind = f"{kind} ({schema['format']})"
    return kind + (f", {', '.join(bounds)}" if bounds else "")


def _description(schema: dict[str, Any]) -> str:
    """A property's description, looking into ``anyOf`` for one where pydantic put it."""
    if schema.get("description"):
        return str(schema["description"])
    for option in schema.get("anyOf", []):
        if option.get("description"):
            return str(option["description"])
    return ""


def render_operation(path: str, method: str, op: dict[str, Any]) -> list[str]:
    """One operation: heading, summary, key, parameters, request body and answers."""
    lines = [f"### `{method.upper()} {path}`", "", _cell(op.get("summary", ""))]
    if op.get("description"):
        lines += ["", op["description"]]
    if op.get("security") == []:
        lines += ["", "No API key needed."]
    params = op.get("parameters", [])
    if params:
        lines += ["", "| parameter | in | type | required | default | description |", "|---|---|---|---|---|---|"]
        for p in params:
            schema = p.get("schema", {})
            default = f"`{schema['default']}`" if "default" in schema else ""
            lines.append(
                f"| `{p['name']}` | {p['in']} | {_cell(schema_type(schema))} | {'yes' if p.get('required') else 'no'} "
                f"| {default} | {_cell(p.get('description', ''))} |"
            )
    body = op.get("requestBody")
    if body:
        lines += ["", "Request body" + (" (required):" if body.get("required") else ":")]
        for media, content in body.get("content", {}).items():
            schema = content.get("schema", {})
            if "$ref" in schema:
                lines.append(f"- `{media}`: {schema_type(schema)}")
            elif schema.get("type") == "object" and "properties" in schema:
                required = set(schema.get("required", []))
                fields = ", ".join(
                    f"`{name}`{'' if name in required else ' (optional)'}: {schema_type(s)}"
                    for name, s in schema["properties"].items()
                )
                lines.append(f"- `{media}`: {fields}")
            else:
                lines.append(f"- `{media}`: {schema_type(schema)}")
    responses = op.get("responses", {})
    if responses:
        lines += ["", "| status | answer | body |", "|---|---|---|"]
        for status, answer in responses.items():
            bodies = ", ".join(
                f"`{media}` {schema_type(c['schema'])}" if "schema" in c else f"`{media}`"
                for media, c in answer.get("content", {}).items()
            )
            lines.append(f"| {status} | {_cell(answer.get('description', ''))} | {_cell(bodies)} |")
    return [*lines, ""]


def render_schema(name: str, schema: dict[str, Any]) -> list[str]:
    """One component schema: its description and a table of its fields."""
    lines = [f"### {name}", ""]
    if schema.get("description"):
        lines += [_cell(schema["description"]), ""]
    props = schema.get("properties", {})
    if not props:
        lines += [f"Type: {schema_type(schema)}.", ""]
        return lines
    required = set(schema.get("required", []))
    lines += ["| field | type | required | default | description |", "|---|---|---|---|---|"]
    for field, s in props.items():
        default = f"`{json.dumps(s['default'])}`" if "default" in s else ""
        lines.append(
            f"| `{field}` | {_cell(schema_type(s))} | {'yes' if field in required else 'no'} | {default} "
            f"| {_cell(_description(s))} |"
        )
    if schema.get("additionalProperties") is False:
        lines += ["", "No other fields are accepted."]
    return [*lines, ""]


def render(doc: dict[str, Any]) -> str:
    """The whole generated part of the page."""
    info = doc.get("info", {})
    lines = [
        f"## Operations (OpenAPI {doc.get('openapi', '')}, API version {info.get('version', '')})",
        "",
    ]
    schemes = doc.get("components", {}).get("securitySchemes", {})
    for name, scheme in schemes.items():
        if scheme.get("type") == "apiKey":
            lines += [f"Authentication (`{name}`): an API key in the `{scheme['name']}` {scheme['in']}.", ""]
    for path in sorted(doc.get("paths", {})):
        ops = doc["paths"][path]
        for method in METHODS:
            if method in ops:
                lines += render_operation(path, method, ops[method])
    lines += ["## Schemas", ""]
    for name, schema in sorted(doc.get("components", {}).get("schemas", {}).items()):
        lines += render_schema(name, schema)
    return "\n".join(lines)


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    """Append the generated reference to the HTTP page."""
    if page.file.src_uri != PAGE:
        return markdown
    return markdown.rstrip() + "\n\n" + render(served_document()) + "\n"
