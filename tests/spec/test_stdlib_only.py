"""spec/ imports only the standard library: it must load with torch and numpy unimportable."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_spec_imports_without_torch_or_numpy() -> None:
    probe = textwrap.dedent(
        """
        import sys
        class Refuse:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {"torch", "numpy", "hypothesis", "sklearn"}:
                    raise ImportError(f"spec must not import {name}")
                return None
        sys.meta_path.insert(0, Refuse())
        from maskproof import spec
        assert spec.MIRRORS and spec.THEOREMS
        leaked = {m.split(".")[0] for m in sys.modules} & {"torch", "numpy", "hypothesis"}
        assert not leaked, leaked
        print("ok")
        """
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
