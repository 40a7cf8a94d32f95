"""The model registry: MLflow tracking + model registry, mirrored in the workspace catalog.

* **Where.** By default a SQLite file inside the workspace (``<workspace>/mlflow.db``, artifacts under
  ``<workspace>/mlruns``; no server); a team's tracking server when ``MLFLOW_TRACKING_URI`` is set
  (:mod:`workbench.config`; a ``sqlite:///`` URI keeps its artifacts in ``mlruns/`` beside the file, a
  server its own artifact store). MLflow is imported only here, and only when a model is registered,
  loaded or promoted (it costs seconds to import): listing reads the catalog's mirror.
* **register(result, name)** logs one MLflow run (params, the CV scores as metrics, the lineage as
  tags and ``lineage.json``, the pickled model under ``model/``) and registers a new version of
  ``name`` from it. The lineage: bar series and its content hash (:func:`workbench.ml.bars_hash`),
  feature set version and id, label spec, CV scheme/folds/scores/mean and baseline, the naive CV mean,
  params, seed, workbench version (and the signal's backtest when given). The catalog gets one
  ``models`` row (kind = the model, path = the artifact URI, params, metrics) and one ``model_lineage``
  row.
* **load(name, version=None, alias=None)** -> :class:`RegisteredModel` (latest version by default).
  Its :meth:`~RegisteredModel.predict` refuses, with one line, bars when the model's feature set
  version is not today's :data:`workbench.ml.FEATURE_SET_VERSION` (retrain it).
* **promote(name, version, evidence, alias="production")** moves an alias only on out-of-sample
  evidence (:class:`Gate`): a purged/CPCV/walk-forward CV score better than the chance baseline and a
  deflated Sharpe ratio of the signal's backtest above a floor. Every decision, promoted or not, is
  recorded with its reasons (MLflow model-version tags and the catalog's ``model_promotions``).

Models are stored with :mod:`pickle`: load only models from a registry you trust (your workspace or
your team's server), as with any pickled scikit-learn model.
"""

from __future__ import annotations

import json
import logging
import math
import pickle
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from workbench.errors import ConfigError, DataError

__all__ = [
    "DB_FILE",
    "ARTIFACTS_DIR",
    "Registered",
    "RegisteredModel",
    "Evidence",
    "Gate",
    "Promotion",
    "tracking_uri",
    "register",
    "load",
    "models",
    "promotions",
    "promote",
]

DB_FILE = "mlflow.db"  # the default registry: a SQLite file in the workspace
ARTIFACTS_DIR = "mlruns"  # its artifacts, next to it
EXPERIMENT = "workbench"
_MODEL_FILE = "model.pkl"
_LINEAGE_FILE = "lineage.json"


def _ws(ws: Any) -> Any:
    if ws is not None:
        return ws
    from workbench.workspace import open_workspace

    return open_workspace()


def tracking_uri(ws: Any = None) -> str:
    """``MLFLOW_TRACKING_URI`` when set, else ``sqlite:///<workspace>/mlflow.db``."""
    from workbench.config import settings

    configured = settings().mlflow_tracking_uri
    if configured:
        return configured
    return f"sqlite:///{(Path(_ws(ws).home) / DB_FILE).resolve()}"


def _client(ws: Any) -> tuple[Any, str]:
    """An ``MlflowClient`` on the registry (imports MLflow, quietly: its INFO lines would break
    ``--json`` output on stderr's neighbour) and the tracking URI."""
    from mlflow import MlflowClient  # configures its loggers on import: quieten them after

    for name in ("mlflow", "mlflow.store.db.utils", "alembic", "alembic.runtime.migration"):
        logging.getLogger(name).setLevel(logging.WARNING)

    uri = tracking_uri(ws)
    return MlflowClient(tracking_uri=uri, registry_uri=uri), uri


def _experiment(client: Any, ws: Any, uri: str) -> str:
    exp = client.get_experiment_by_name(EXPERIMENT)
    if exp is not None:
        return exp.experiment_id
    artifacts = None
    if uri.startswith("sqlite:///"):  # a local store: artifacts beside its file, never in the cwd
        folder = Path(uri.removeprefix("sqlite:///")).parent / ARTIFACTS_DIR
        folder.mkdir(parents=True, exist_ok=True)
        artifacts = folder.resolve().as_uri()
    return client.create_experiment(EXPERIMENT, artifact_location=artifacts)


def _num(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _plain(value: Any) -> Any:
    """JSON-ready: numpy scalars as Python numbers, non-finite floats as None, tuples as lists."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# -- register ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Registered:
    """What :func:`register` returns (unpacks as ``name, version, run_id``)."""

    name: str
    version: int
    run_id: str
    tracking_uri: str = ""

    def __iter__(self):
        return iter((self.name, self.version, self.run_id))


def register(
    result: Any,
    name: str,
    *,
    ws: Any = None,
    data: str | None = None,
    backtest: Mapping[str, Any] | None = None,
    description: str | None = None,
) -> Registered:
    """Log ``result`` (a :class:`workbench.ml.TrainResult`) as an MLflow run and register it as a new
    version of ``name``; mirror it in the catalog. ``data``: the bar series it was trained on
    (``"EURUSD:1h"``: kept in the lineage with the bars' content hash); ``backtest``: the metrics of
    its signal's backtest (kept too)."""
    if not name or not str(name).strip():
        raise ConfigError("a registered model needs a name")
    ws = _ws(ws)
    lineage = _plain(result.lineage())
    symbol, _, timeframe = (data or "").partition(":")
    lineage["data"] = data
    if backtest is not None:
        lineage["backtest"] = _plain(dict(backtest))
    client, uri = _client(ws)
    exp = _experiment(client, ws, uri)
    tags = {
        "workbench.model": str(result.model_name),
        "workbench.data": data or "",
        "workbench.bars_sha256": str(result.bars_hash),
        "workbench.feature_set_version": str(result.feature_set_version),
        "workbench.feature_set": str(result.feature_set),
        "workbench.label": json.dumps(lineage["label_spec"], sort_keys=True),
        "workbench.cv_scheme": str(result.cv.scheme),
        "workbench.seed": str(result.seed),
        "workbench.version": str(lineage.get("workbench_version")),
    }
    run = client.create_run(exp, run_name=f"{name} {result.model_name}", tags=tags)
    run_id = run.info.run_id
    try:
        for k, v in sorted(_flat_params(result.params).items()):
            client.log_param(run_id, k, v)
        client.log_param(run_id, "seed", result.seed)
        client.log_param(run_id, "label", json.dumps(lineage["label_spec"], sort_keys=True)[:500])
        client.log_param(run_id, "cv", result.cv.scheme)
        metrics = _metrics(result, backtest)
        for k, v in metrics.items():
            if isinstance(v, float):
                client.log_metric(run_id, k, v)
        for i, s in enumerate(result.cv.scores):
            if _num(s) is not None:
                client.log_metric(run_id, f"cv_{result.cv.metric}_fold", float(s), step=i)
        with tempfile.TemporaryDirectory(prefix="workbench-ml-") as tmp:
            folder = Path(tmp)
            with open(folder / _MODEL_FILE, "wb") as fh:
                pickle.dump(_Payload.of(result), fh, protocol=pickle.HIGHEST_PROTOCOL)
            (folder / _LINEAGE_FILE).write_text(json.dumps(lineage, indent=1, sort_keys=True))
            result.importance.write_csv(folder / "importance.csv")
            client.log_artifacts(run_id, str(folder), artifact_path="model")
        client.set_terminated(run_id)
    except BaseException:
        client.set_terminated(run_id, status="FAILED")
        raise
    from mlflow.exceptions import MlflowException

    try:
        client.create_registered_model(name, description=description)
    except MlflowException as e:
        if "RESOURCE_ALREADY_EXISTS" not in str(getattr(e, "error_code", "")) + str(e):
            raise
    source = f"{run.info.artifact_uri}/model"
    mv = client.create_model_version(
        name, source=source, run_id=run_id, tags={k: v[:5000] for k, v in tags.items()}
    )
    version = int(mv.version)
    _mirror(ws, name, version, result, source, metrics, lineage, run_id, uri, symbol, timeframe)
    return Registered(name, version, run_id, uri)


def _flat_params(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in params.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flat_params(v, f"{key}."))
        else:
            out[key] = str(v)[:500]
    return out


def _metrics(result: Any, backtest: Mapping[str, Any] | None) -> dict[str, Any]:
    cv = result.cv
    out: dict[str, Any] = {
        f"cv_{cv.metric}": _num(cv.mean),
        f"cv_{cv.metric}_baseline": _num(cv.baseline),
        f"naive_cv_{cv.metric}": _num(result.naive_cv_mean),
    }
    out.update({f"cv_{k}": _num(v) for k, v in cv.other.items()})
    for k, v in (backtest or {}).items():
        if _num(v) is not None:
            out[f"backtest_{k}"] = float(v)
    return {k: v for k, v in out.items() if v is not None}


def _mirror(
    ws: Any,
    name: str,
    version: int,
    result: Any,
    source: str,
    metrics: dict[str, Any],
    lineage: dict[str, Any],
    run_id: str,
    uri: str,
    symbol: str,
    timeframe: str,
) -> None:
    from workbench.store import Q, utcnow

    with ws.store.transaction() as con:
        mid = con.execute(Q.ml_next_model_id).fetchall()[0][0]
        con.execute(
            Q.ml_insert_model,
            [
                mid,
                name,
                version,
                str(result.model_name),
                source,
                json.dumps(_plain(result.params)),
                json.dumps({"cv": lineage["cv"], "naive_cv_mean": lineage["naive_cv_mean"], **metrics}),
                utcnow(),
            ],
        )
        con.execute(
            Q.ml_insert_lineage,
            [
                mid,
                run_id,
                uri,
                symbol or None,
                timeframe or None,
                str(result.bars_hash),
                str(result.feature_set_version),
                json.dumps(lineage),
            ],
        )


@dataclass
class _Payload:
    """What ``model/model.pkl`` holds: the fitted model and what predicting needs."""

    model: Any
    model_name: str
    feature_spec: Any
    feature_names: list[str]
    feature_set_version: str

    @classmethod
    def of(cls, result: Any) -> _Payload:
        return cls(
            result.model,
            result.model_name,
            result.feature_spec,
            list(result.feature_names),
            str(result.feature_set_version),
        )


# -- load --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegisteredModel:
    """A model loaded from the registry: the fitted estimator and its lineage."""

    name: str
    version: int
    run_id: str
    model: Any = field(repr=False)
    model_name: str
    feature_spec: Any = field(repr=False)
    feature_names: list[str] = field(repr=False)
    feature_set_version: str
    lineage: dict[str, Any] = field(repr=False)
    aliases: tuple[str, ...] = ()
    importance: pl.DataFrame | None = field(default=None, repr=False)  # feature, mdi, mda, shap

    def check_features(self) -> None:
        """ConfigError (one line) when the model's feature set is not today's."""
        from workbench.ml.features import FEATURE_SET_VERSION

        if self.feature_set_version != FEATURE_SET_VERSION:
            raise ConfigError(
                f"model {self.name} v{self.version} was trained on feature set version "
                f"{self.feature_set_version}, this workbench computes version {FEATURE_SET_VERSION}; "
                f"retrain it (workbench ml train ... --name {self.name})"
            )

    def predict(self, bars: pl.DataFrame) -> pl.DataFrame:
        """``ts, proba`` (P(up), null during the feature warm-up) for every bar of ``bars``."""
        from workbench.ml.train import predict

        self.check_features()
        return predict(self.model, bars, spec=self.feature_spec, feature_names=self.feature_names)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """P(up) of feature rows ``X`` (columns in :attr:`feature_names` order): one decision."""
        from workbench.ml.models import positive_proba

        self.check_features()
        return positive_proba(self.model, np.asarray(X, dtype=np.float64))


def load(
    name: str, version: int | None = None, *, alias: str | None = None, ws: Any = None
) -> RegisteredModel:
    """The registered model ``name`` at ``version``, or the version ``alias`` points at (e.g.
    ``"production"``), or its latest version."""
    from mlflow.exceptions import MlflowException

    ws = _ws(ws)
    client, uri = _client(ws)
    try:
        if alias is not None:
            mv = client.get_model_version_by_alias(name, alias)
        elif version is not None:
            mv = client.get_model_version(name, str(int(version)))
        else:
            versions = client.search_model_versions(f"name = '{_quote(name)}'")
            if not versions:
                raise MlflowException(f"no versions of {name}")
            mv = max(versions, key=lambda v: int(v.version))
    except MlflowException:
        known = models(ws)["name"].unique().sort().to_list() if ws is not None else []
        what = (
            f"alias {alias!r}" if alias else (f"version {version}" if version is not None else "any version")
        )
        raise DataError(
            f"no registered model {name!r} with {what} (registered: {', '.join(known) or 'none'}; "
            "see `workbench ml models`)",
            file=tracking_uri(ws),
            where="registry",
        ) from None
    from mlflow.artifacts import download_artifacts

    folder = Path(download_artifacts(artifact_uri=mv.source, tracking_uri=uri))
    with open(folder / _MODEL_FILE, "rb") as fh:
        payload: _Payload = pickle.load(fh)  # noqa: S301 - the user's own registry (module docstring)
    lineage = json.loads((folder / _LINEAGE_FILE).read_text())
    imp_file = folder / "importance.csv"
    importance = None
    if imp_file.exists():
        cols = {"feature": pl.Utf8, "mdi": pl.Float64, "mda": pl.Float64, "shap": pl.Float64}
        importance = pl.read_csv(imp_file, schema_overrides=cols)
    return RegisteredModel(
        name=name,
        version=int(mv.version),
        run_id=mv.run_id,
        model=payload.model,
        model_name=payload.model_name,
        feature_spec=payload.feature_spec,
        feature_names=payload.feature_names,
        feature_set_version=payload.feature_set_version,
        lineage=lineage,
        aliases=tuple(getattr(mv, "aliases", ()) or ()),
        importance=importance,
    )


def _quote(name: str) -> str:
    return name.replace("'", "''")


# -- listing (the catalog's mirror; no MLflow import) ------------------------------------------------------


def models(ws: Any = None, name: str | None = None) -> pl.DataFrame:
    """Registered model versions in this workspace's mirror: id, name, version, kind, symbol, timeframe,
    feature_set_version, metrics (JSON), aliases (JSON), run_id, path, tracking_uri, bars_sha256,
    params, lineage, created_at."""
    from workbench.store import Q

    return _ws(ws).store.frame(Q.ml_list_models, [name])


def promotions(name: str, ws: Any = None) -> pl.DataFrame:
    """Every promotion decision about ``name``: version, alias, promoted, reasons, evidence, decided_at."""
    from workbench.store import Q

    return _ws(ws).store.frame(Q.ml_promotions, [name])


# -- promotion ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Evidence:
    """Out-of-sample evidence for a model version: its CV (``scheme``, ``metric``, ``mean``, the chance
    ``baseline`` of the same metric, ``higher_is_better``, ``folds``) and the deflated Sharpe ratio of
    its signal's backtest (``deflated_sharpe``, a probability; ``trials``: the threshold combinations
    or models tried, over which it is deflated; ``sharpe``: the chosen one's annualised Sharpe)."""

    scheme: str
    metric: str
    mean: float
    baseline: float
    higher_is_better: bool
    folds: int
    deflated_sharpe: float | None = None
    trials: int | None = None
    sharpe: float | None = None
    pbo: float | None = None

    @classmethod
    def of(cls, result: Any, overfit: Any = None) -> Evidence:
        """From a :class:`workbench.ml.TrainResult` and the :class:`workbench.optimize.overfit.Overfit`
        of its signal's backtest (see :func:`workbench.ml.signal.backtest_signal`)."""
        cv = result.cv
        return cls(
            scheme=cv.scheme,
            metric=cv.metric,
            mean=float(cv.mean),
            baseline=float(cv.baseline),
            higher_is_better=bool(cv.higher_is_better),
            folds=int(cv.folds),
            deflated_sharpe=getattr(overfit, "deflated_sharpe", None),
            trials=getattr(overfit, "n_trials", None),
            sharpe=getattr(overfit, "sharpe", None),
            pbo=getattr(overfit, "pbo", None),
        )

    @property
    def edge(self) -> float:
        """How much better than chance the CV score is (positive = better), in the metric's units."""
        return (self.mean - self.baseline) if self.higher_is_better else (self.baseline - self.mean)

    def to_dict(self) -> dict[str, Any]:
        return _plain({**self.__dict__, "edge": self.edge})


OOS_SCHEMES = ("purged", "cpcv", "walk_forward")


@dataclass(frozen=True)
class Gate:
    """What promotion requires: an out-of-sample CV scheme (not naive k-fold), a CV score better than
    chance by more than ``min_edge`` (in the metric's units), and a deflated Sharpe ratio of the
    signal's backtest of at least ``min_deflated_sharpe`` (0.95: the chosen Sharpe ratio beats the
    best of the trials by luck with 95 % probability)."""

    min_edge: float = 0.0
    min_deflated_sharpe: float = 0.95

    def check(self, e: Evidence) -> tuple[bool, list[str]]:
        reasons: list[str] = []
        ok = True
        if e.scheme in OOS_SCHEMES:
            reasons.append(f"pass: CV scheme {e.scheme} is out-of-sample ({e.folds} folds)")
        else:
            ok = False
            reasons.append(f"fail: CV scheme {e.scheme} is not out-of-sample (need {', '.join(OOS_SCHEMES)})")
        better = "higher" if e.higher_is_better else "lower"
        if math.isfinite(e.edge) and e.edge > self.min_edge:
            reasons.append(
                f"pass: CV {e.metric} {e.mean:.5f} beats chance {e.baseline:.5f} by {e.edge:.5f} "
                f"({better} is better; need > {self.min_edge:g})"
            )
        else:
            ok = False
            reasons.append(
                f"fail: CV {e.metric} {e.mean:.5f} does not beat chance {e.baseline:.5f} by more than "
                f"{self.min_edge:g} ({better} is better)"
            )
        dsr = e.deflated_sharpe
        if dsr is None or not math.isfinite(dsr):
            ok = False
            reasons.append(
                "fail: no deflated Sharpe ratio of the signal's backtest (backtest it over >= 2 trials)"
            )
        elif dsr >= self.min_deflated_sharpe:
            reasons.append(
                f"pass: deflated Sharpe {dsr:.3f} >= {self.min_deflated_sharpe:g} over {e.trials} trials"
            )
        else:
            ok = False
            reasons.append(
                f"fail: deflated Sharpe {dsr:.3f} < {self.min_deflated_sharpe:g} over {e.trials} trials "
                f"(Sharpe {e.sharpe if e.sharpe is None else round(e.sharpe, 3)}: indistinguishable from "
                "the luck of the best trial)"
            )
        return ok, reasons


@dataclass(frozen=True)
class Promotion:
    """A promotion decision: ``promoted`` or not, and why (one line per check)."""

    name: str
    version: int
    alias: str
    promoted: bool
    reasons: tuple[str, ...]
    evidence: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "alias": self.alias,
            "promoted": self.promoted,
            "reasons": list(self.reasons),
            "evidence": self.evidence,
        }


def promote(
    name: str,
    version: int,
    evidence: Evidence,
    *,
    alias: str = "production",
    gate: Gate | None = None,
    ws: Any = None,
) -> Promotion:
    """Point ``alias`` at ``name`` v``version`` when ``evidence`` passes ``gate`` (:class:`Gate`);
    either way record the decision and its reasons (model-version tags ``workbench.promotion.<alias>``
    in MLflow, a ``model_promotions`` row in the catalog)."""
    from workbench.store import Q, utcnow

    ws = _ws(ws)
    gate = gate or Gate()
    ok, reasons = gate.check(evidence)
    client, uri = _client(ws)
    version = int(version)
    client.get_model_version(name, str(version))  # raises when there is no such version
    if ok:
        client.set_registered_model_alias(name, alias, str(version))
    decision = {"promoted": ok, "reasons": reasons, "evidence": evidence.to_dict()}
    client.set_model_version_tag(
        name, str(version), f"workbench.promotion.{alias}", json.dumps(decision)[:5000]
    )
    with ws.store.transaction() as con:
        if ok:
            con.execute(Q.ml_clear_alias, [name, alias, uri])
            con.execute(Q.ml_add_alias, [name, version, alias, uri])
        con.execute(
            Q.ml_insert_promotion,
            [name, version, alias, ok, json.dumps(reasons), json.dumps(evidence.to_dict()), utcnow()],
        )
    return Promotion(name, version, alias, ok, tuple(reasons), evidence.to_dict())
