"""A small sequence model in torch on CPU: an LSTM or a temporal CNN over the last ``window`` feature rows.

:class:`SequenceClassifier` is scikit-learn-like (``fit(X, y)``, ``predict_proba(X)``, ``classes_``). Row
``i``'s input is rows ``i - window + 1 .. i`` of the ``X`` it is given, in the order given (the first rows
repeat row 0 as padding), so it only ever reads the past of the rows it is handed. Inputs are imputed
(column medians) and standardised with statistics of the training rows. ``seed`` fixes the initial
weights and the batch order; torch runs on one thread inside ``fit``/``predict_proba`` (restored after), so
the same seed and data give the same model. The TCN is a stack of causal dilated convolutions
(dilations 1, 2, 4, ...: a receptive field of the window), the LSTM a ``layers``-deep LSTM; both read
the last step's state into one logit.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

__all__ = ["SequenceClassifier", "LSTMNet", "TCNNet"]


class LSTMNet(nn.Module):
    """``layers``-deep LSTM; the last step's hidden state -> one logit."""

    def __init__(self, n_in: int, hidden: int, layers: int, dropout: float) -> None:
        super().__init__()
        self.rnn = nn.LSTM(
            n_in, hidden, num_layers=layers, batch_first=True, dropout=dropout if layers > 1 else 0.0
        )
        self.head = nn.Linear(hidden, 1)

    def forward(self, x):  # x: (batch, window, features)
        out, _ = self.rnn(x)
        return self.head(out[:, -1, :]).squeeze(-1)


class CausalConv(nn.Module):
    """Kernel-3 dilated convolution padded on the left only (reads steps <= t), ReLU, residual."""

    def __init__(self, c_in: int, c_out: int, dilation: int, dropout: float) -> None:
        super().__init__()
        self.pad = 2 * dilation
        self.conv = nn.Conv1d(c_in, c_out, 3, dilation=dilation)
        self.skip = nn.Conv1d(c_in, c_out, 1) if c_in != c_out else nn.Identity()
        self.drop = nn.Dropout(dropout)

    def forward(self, x):  # (batch, channels, time)
        y = torch.relu(self.conv(nn.functional.pad(x, (self.pad, 0))))
        return self.drop(y) + self.skip(x)


class TCNNet(nn.Module):
    """Causal dilated convolutions (1, 2, 4, ...) until the receptive field covers the window."""

    def __init__(self, n_in: int, hidden: int, window: int, dropout: float) -> None:
        super().__init__()
        blocks, c, d = [], n_in, 1
        while True:
            blocks.append(CausalConv(c, hidden, d, dropout))
            c = hidden
            if 1 + 2 * (2 * d - 1) >= window:
                break
            d *= 2
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x):  # x: (batch, window, features)
        y = self.blocks(x.transpose(1, 2))
        return self.head(y[:, :, -1]).squeeze(-1)


class _OneThread:
    def __enter__(self):
        self.threads = torch.get_num_threads()
        torch.set_num_threads(1)

    def __exit__(self, *exc: Any) -> None:
        torch.set_num_threads(self.threads)


class SequenceClassifier:
    """LSTM (``kind="lstm"``) or TCN (``kind="tcn"``) binary classifier over feature windows."""

    def __init__(
        self,
        kind: str = "lstm",
        *,
        seed: int = 0,
        window: int = 32,
        hidden: int = 16,
        epochs: int = 5,
        lr: float = 3e-3,
        batch_size: int = 256,
        dropout: float = 0.0,
        layers: int = 1,
    ) -> None:
        self.kind = kind
        self.seed = seed
        self.window = int(window)
        self.hidden = int(hidden)
        self.epochs = int(epochs)
        self.lr = float(lr)
        self.batch_size = int(batch_size)
        self.dropout = float(dropout)
        self.layers = int(layers)
        self.classes_ = np.array([0, 1])

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        keys = ("kind", "seed", "window", "hidden", "epochs", "lr", "batch_size", "dropout", "layers")
        return {k: getattr(self, k) for k in keys}

    # -- data --------------------------------------------------------------------------------------

    def _prepare(self, X: Any):
        x = np.array(X, dtype=np.float32, copy=True)
        bad = np.isnan(x)
        if bad.any():
            x[bad] = np.take(self.median_, np.nonzero(bad)[1])
        x = (x - self.mean_) / self.scale_
        pad = np.repeat(x[:1], self.window - 1, axis=0) if x.shape[0] else x[:0]
        xp = torch.from_numpy(np.ascontiguousarray(np.concatenate([pad, x]), dtype=np.float32))
        return xp.unfold(0, self.window, 1).transpose(1, 2)  # (n, window, features), a view

    # -- sklearn-like API ----------------------------------------------------------------------------

    def fit(self, X: Any, y: Any) -> SequenceClassifier:
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y).astype(np.float32)
        with np.errstate(all="ignore"):
            med = np.nanmedian(X, axis=0) if X.shape[0] else np.zeros(X.shape[1])
        self.median_ = np.nan_to_num(med).astype(np.float32)
        filled = np.where(np.isnan(X), self.median_, X)
        self.mean_ = filled.mean(axis=0).astype(np.float32)
        sd = filled.std(axis=0)
        self.scale_ = np.where(sd > 0, sd, 1.0).astype(np.float32)
        self.n_features_in_ = X.shape[1]
        with _OneThread():
            torch.manual_seed(self.seed)
            if self.kind == "lstm":
                net = LSTMNet(X.shape[1], self.hidden, self.layers, self.dropout)
            elif self.kind == "tcn":
                net = TCNNet(X.shape[1], self.hidden, self.window, self.dropout)
            else:
                raise ValueError(f"unknown sequence model kind {self.kind!r} (lstm, tcn)")
            windows = self._prepare(X)
            target = torch.from_numpy(y)
            opt = torch.optim.Adam(net.parameters(), lr=self.lr)
            loss_fn = torch.nn.BCEWithLogitsLoss()
            gen = torch.Generator().manual_seed(self.seed)
            n = windows.shape[0]
            net.train()
            self.losses_ = []
            for _ in range(self.epochs):
                order = torch.randperm(n, generator=gen)
                total = 0.0
                for start in range(0, n, self.batch_size):
                    b = order[start : start + self.batch_size]
                    opt.zero_grad()
                    loss = loss_fn(net(windows[b]), target[b])
                    loss.backward()
                    opt.step()
                    total += float(loss.detach()) * b.shape[0]
                self.losses_.append(total / max(n, 1))
            net.eval()
        self.net_ = net
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        with _OneThread(), torch.no_grad():
            windows = self._prepare(np.asarray(X, dtype=np.float64))
            parts = [
                torch.sigmoid(self.net_(windows[s : s + 4096])).numpy()
                for s in range(0, windows.shape[0], 4096)
            ]
        p1 = np.concatenate(parts).astype(np.float64) if parts else np.zeros(0)
        return np.column_stack([1.0 - p1, p1])

    def predict(self, X: Any) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(np.int64)
