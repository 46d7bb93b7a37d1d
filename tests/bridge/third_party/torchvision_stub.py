"""Stand-in ``torchvision`` module, so that timm's and lightly's ViT code imports here.

Why: the torchvision wheels on the package index do not load beside the CPU build
``torch==2.13.0+cpu`` this project tests with (``import torchvision`` raises
``RuntimeError: operator torchvision::nms does not exist``, measured with 0.28.0 and 0.29.1),
yet ``timm.models.vision_transformer`` and ``lightly.models`` import torchvision names at module
import time (``torchvision.ops.misc.FrozenBatchNorm2d``, ``torchvision.ops.StochasticDepth``,
``torchvision.transforms.InterpolationMode``...) that their ViT and MAE code never calls.

:func:`install` is used only where the real torchvision does not import. It answers every
``torchvision`` import with a module whose attributes are placeholder classes; building or
calling one raises :class:`StubbedTorchvisionError`, so a code path that really needs
torchvision fails loudly instead of running on a fake. The audited code itself (timm, lightly,
the official MAE checkout) is the real, unmodified code.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import types
from typing import Any, NoReturn


class StubbedTorchvisionError(RuntimeError):
    pass


class _PlaceholderMeta(type):
    def __getattr__(cls, name: str) -> str:
        # Class attributes read at import time (enum members such as
        # InterpolationMode.NEAREST) become unique marker strings.
        if name.startswith("__"):
            raise AttributeError(name)
        return f"{cls.__qualname__}.{name}"


class _Placeholder(metaclass=_PlaceholderMeta):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise StubbedTorchvisionError(
            f"{type(self).__qualname__} was built, but torchvision is stubbed in this test "
            "(the real one does not import beside torch 2.13.0+cpu)")

    def __call__(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise StubbedTorchvisionError(f"{type(self).__qualname__} was called")


#: Configuration calls made at import time (``lightly.data._video`` picks a video backend),
#: answered with None; every other call into the stub raises.
_IMPORT_TIME_CALLS = frozenset({"torchvision.set_video_backend"})


def _ignored_call(*args: Any, **kwargs: Any) -> None:
    return None


class _StubModule(types.ModuleType):
    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        qualname = f"{self.__name__}.{name}"
        value: Any = (_ignored_call if qualname in _IMPORT_TIME_CALLS
                      else _PlaceholderMeta(name, (_Placeholder,), {"__qualname__": qualname}))
        setattr(self, name, value)
        return value


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname: str, path: object, target: object = None
                  ) -> importlib.machinery.ModuleSpec | None:
        if fullname == "torchvision" or fullname.startswith("torchvision."):
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        module = _StubModule(spec.name)
        module.__path__ = []
        module.__version__ = "0.0.0+maskproof-stub"  # type: ignore[attr-defined]
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        pass


def real_torchvision_imports() -> bool:
    try:
        import torchvision  # type: ignore[import-not-found]  # noqa: F401
    except Exception:  # the CUDA-built wheel raises RuntimeError, not ImportError
        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]
        return False
    return True


def install() -> bool:
    """Put the stand-in in place unless the real torchvision imports; True if it did."""
    if any(isinstance(f, _Finder) for f in sys.meta_path) or real_torchvision_imports():
        return False
    sys.meta_path.insert(0, _Finder())
    return True
