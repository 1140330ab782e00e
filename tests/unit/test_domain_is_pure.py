import ast
from pathlib import Path

import service.domain

DOMAIN = Path(service.domain.__file__).parent
FORBIDDEN = {"flask", "sqlalchemy", "werkzeug", "flask_smorest"}


def test_the_domain_imports_neither_flask_nor_sqlalchemy() -> None:
    offenders = []
    modules = sorted(DOMAIN.glob("*.py"))
    assert len(modules) >= 5
    for path in modules:
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []
