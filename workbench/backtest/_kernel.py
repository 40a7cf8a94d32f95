"""The fused Numba kernels: rule evaluation + order simulation + metrics in one pass per combination.

``sweep_kernel`` runs ``prange`` over combinations and keeps only scalar state per combination (no equity
or signal arrays), so memory is the bars plus the shared indicator matrix ``M`` (one row per distinct
indicator, e.g. one SMA per distinct window). The same kernel run on one combination records
its equity curve and trades (``run``). The conventions are documented in
:mod:`workbench.backtest.engine`.

Rules arrive as arrays. Each combination has up to four distinct *comparisons* ``j`` of a line ``A``
with a line ``B``: ``ci[k, j] = (a1, a2, b, span)`` and ``cc[k, j]``: ``A = M[a1] - M[a2]`` (``a2 = -1``:
just ``M[a1]``), ``B = EMA_span(A)`` if ``span > 0``, else ``M[b]`` if ``b >= 0``, else the constant
``cc[k, j]``; ``nc[k]`` is the number of comparisons. At each bar comparison ``j`` sets event bit ``2j``
when ``A`` crossed above ``B`` and bit ``2j+1`` when it crossed below; ``rb[k, r]`` is the event bit of
rule ``r`` in (long_entry, long_exit, short_entry, short_exit), ``-1`` = never. The per-bar state of
comparison 0 and of the position is held in scalars, which keeps the hot loop in registers.

Returns: ``period_end[i]`` marks the last bar of a return period (a trading day, or every bar when the
bars are coarser than a day; :func:`workbench.backtest.engine.annualization`); the return of a period is
the equity at its last bar over the previous period's, minus 1, and Sharpe/Sortino are annualised by
``√periods_per_year``.

Block moments (optional, for the overfitting statistics of :mod:`workbench.optimize.overfit`):
``day_block[i]`` is the block (``0..S-1``) of the period return completed at bar ``i`` (a ``period_end``
bar; other bars are never read). ``sweep_kernel(..., day_block, S, ppy)`` then returns ``N_METRICS + 3 S``
columns: after the metrics, ``(count, sum r, sum r²)`` of the period returns of block ``s`` at columns
``N_METRICS + 3 s ...`` (row-major (S, 3); ``block_moments`` splits them off). An empty ``day_block``
with ``S = 0`` turns this off. The moments accumulate in the metrics row itself: a separate output
array written from the day-end branch measurably slowed the per-bar loop (about 7 %), this does not.

Settings (:mod:`workbench.backtest.settings` resolves them): ``costs`` (``COSTS``: commission as a
fraction of notional, money per unit and per order, each charged on every fill; spread as a fraction of
price and a price distance, paid once on entry; slippage likewise, against every market fill: entries,
signal exits, stop-losses and trailing stops, not take-profits). Stops per combination: ``stop_v[k]``
and ``stop_k[k]`` hold (stop-loss, take-profit, trailing stop) values and kinds (``STOP_FRACTION`` of the
entry fill, or of the best price since entry for the trailing stop; ``STOP_PRICE`` a price distance;
``STOP_ATR`` × ``stop_u[s, signal bar]``), value 0 = off. Sizing: ``SIZE_*`` modes (``_units``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from workbench.backtest.indicators import ema_step

METRICS = (
    "total_return_pct",
    "sharpe",
    "sortino",
    "max_drawdown_pct",
    "trades",
    "win_rate",
    "profit_factor",
    "final_equity",
)
N_METRICS = len(METRICS)
TRADE_FIELDS = (
    "eb",
    "exit_bar",
    "direction",
    "size",
    "entry_price",
    "exit_price",
    "commission",
    "pnl",
    "exit_reason",
)
EXIT_REASONS = ("signal", "stop_loss", "take_profit", "bankrupt", "trailing_stop")
SIZE_UNITS, SIZE_FRACTION, SIZE_VOL_TARGET, SIZE_CASH, SIZE_RISK = 0, 1, 2, 3, 4
STOP_FRACTION, STOP_PRICE, STOP_ATR = 0, 1, 2  # stop kinds: of the entry (best) price, price, × ATR
# the ``costs`` array: commission (fraction of notional, per unit, per order), spread and slippage
# (fraction of price, price distance)
COSTS = ("commission", "per_unit", "per_order", "spread", "spread_price", "slippage", "slippage_price")
C_COMMISSION, C_PER_UNIT, C_PER_ORDER, C_SPREAD, C_SPREAD_PRICE, C_SLIPPAGE, C_SLIPPAGE_PRICE = range(7)
_NONE = 9  # no pending order


@njit(cache=True, inline="always")
def _compare(av, bv, span, alpha, ema_v, ema_n):
    """Line ``A`` (value ``av``) vs line ``B`` (``bv``, or the EMA of ``A`` when ``span > 0``):
    returns (A < B, A > B, ema state). Scalars only: array arguments to inlined functions cost a
    reference-count update per bar, so the caller reads the rows."""
    if span > 0:
        if av == av:
            if ema_n == 0:
                ema_v = av
            else:
                ema_v = ema_step(ema_v, av, alpha)
            ema_n += 1
        bv = ema_v if ema_n >= span else np.nan
    return np.int64(av < bv), np.int64(av > bv), ema_v, ema_n


@njit(cache=True, inline="always")
def _events(lt, gt, prev, j):
    """Event bits of comparison ``j`` (up = bit 2j, down = bit 2j+1) and its new below/above state bits."""
    up = ((prev >> (2 * j)) & 1) & gt
    down = ((prev >> (2 * j + 1)) & 1) & lt
    return (up << (2 * j)) | (down << (2 * j + 1)), (lt << (2 * j)) | (gt << (2 * j + 1))


@njit(cache=True)
def _more_events(M, i, ci, cc, k, ncmp, es, prev):
    """Event and state bits of comparisons 1..ncmp-1 (EMA state in ``es`` as value, count pairs)."""
    events = np.int64(0)
    state = np.int64(0)
    for j in range(1, ncmp):
        a1, a2, b, span = ci[k, j, 0], ci[k, j, 1], ci[k, j, 2], ci[k, j, 3]
        av = M[a1, i] - M[a2, i] if a2 >= 0 else M[a1, i]
        bv = M[b, i] if b >= 0 else cc[k, j]
        alpha = 2.0 / (span + 1.0) if span > 0 else 0.0
        lt, gt, v, m = _compare(av, bv, span, alpha, es[2 * j], np.int64(es[2 * j + 1]))
        es[2 * j] = v
        es[2 * j + 1] = m
        e, s = _events(lt, gt, prev, j)
        events |= e
        state |= s
    return events, state


@njit(cache=True, inline="always")
def _cmp_params(ci, cc, k, j):
    """Comparison ``j`` of combination ``k`` as a tuple of scalars (hoisted out of the bar loop)."""
    span = np.int64(ci[k, j, 3])
    alpha = 2.0 / (span + 1.0) if span > 0 else 0.0
    return np.int64(ci[k, j, 0]), np.int64(ci[k, j, 1]), np.int64(ci[k, j, 2]), span, cc[k, j], alpha


@njit(cache=True, inline="always")
def _flag(events, bit):
    return bit >= 0 and ((events >> bit) & 1) == 1


@njit(cache=True, inline="always")
def _fee(units, px, costs):
    """Commission of one fill of ``units`` at ``px``: a fraction of notional, per unit and per order."""
    return units * px * costs[C_COMMISSION] + units * costs[C_PER_UNIT] + costs[C_PER_ORDER]


@njit(cache=True, inline="always")
def _slip(px, d, costs):
    """``px`` moved against a market order of direction ``d`` (+1 buys, -1 sells) by the slippage."""
    return px + d * (px * costs[C_SLIPPAGE] + costs[C_SLIPPAGE_PRICE])


@njit(cache=True, inline="always")
def _close(px, i, reason, pos, units, ep, ec, eb, costs, tr_out, n_trades):
    """Close the position (direction ``pos``, ``units``, entry price ``ep``, entry commission ``ec``,
    entry bar ``eb``) at ``px`` on bar ``i``: returns (cash change, pnl); records the trade in
    ``tr_out`` when it has rows (a single-combination run)."""
    gross = pos * units * (px - ep)
    exit_comm = _fee(units, px, costs)
    pnl = gross - exit_comm - ec
    if tr_out.shape[0] > 0:
        t = tr_out[n_trades]
        t[0] = eb
        t[1] = i
        t[2] = pos
        t[3] = units
        t[4] = ep
        t[5] = px
        t[6] = ec + exit_comm
        t[7] = pnl
        t[8] = reason
    return gross - exit_comm, pnl


@njit(cache=True, inline="always")
def _level(ref, side, kind, value, unit):
    """The price ``value`` away from ``ref`` on ``side`` (+1 above, -1 below): ``kind`` 0 a fraction of
    ``ref``, 1 a price distance, 2 ``value`` × ``unit`` (the ATR); NaN = no level (off, or an ATR not
    defined yet), which no price ever touches."""
    if not value > 0:
        return np.nan
    if kind == STOP_FRACTION:
        return ref * (1.0 + side * value)
    dist = value if kind == STOP_PRICE else value * unit
    if not dist > 0:
        return np.nan
    return ref + side * dist


@njit(cache=True, inline="always")
def _enter(d, px, i, j, cash, vol_now, costs, stop_v, stop_k, stop_u, k, sizing, sv, scale_j):
    """Open direction ``d`` at market price ``px`` on bar ``i`` (signal bar ``j``): (pos, units, entry
    price, entry commission, entry bar); ``pos`` 0 when the size comes out 0 (nothing is opened then).
    The stop levels go to ``sv`` (stop, take, trailing stop, trailing distance, best price; NaN = none):
    rarely read, they stay out of the bar loop's registers. The entry fill pays the spread and the
    slippage; the stops are measured from it (ATR stops with the signal bar's ATR). ``scale_j`` (the
    signal bar's size scale, 1 when the bars carry none) multiplies the units (0 or NaN: no entry)."""
    adj = px * (1.0 + d * costs[C_SPREAD]) + d * (
        costs[C_SPREAD_PRICE] + px * costs[C_SLIPPAGE] + costs[C_SLIPPAGE_PRICE]
    )
    u0 = stop_u[0, j] if stop_k[k, 0] == STOP_ATR else 0.0
    u1 = stop_u[1, j] if stop_k[k, 1] == STOP_ATR else 0.0
    u2 = stop_u[2, j] if stop_k[k, 2] == STOP_ATR else 0.0
    stop_px = _level(adj, -d, stop_k[k, 0], stop_v[k, 0], u0)
    take_px = _level(adj, d, stop_k[k, 1], stop_v[k, 1], u1)
    trail_px = _level(adj, -d, stop_k[k, 2], stop_v[k, 2], u2)
    risk = abs(adj - stop_px)
    trail_d = abs(adj - trail_px)
    if trail_d < risk or risk != risk:  # the tighter stop bounds the loss (NaN: that stop is off)
        risk = trail_d
    u = _units(sizing[0], sizing[1], sizing[2], sizing[3], cash, px, adj, costs, vol_now, risk)
    if scale_j != 1.0:
        u = u * scale_j if scale_j > 0 else 0.0
        if sizing[2]:
            u = math.floor(u)
    sv[0] = stop_px
    sv[1] = take_px
    sv[2] = trail_px
    sv[3] = trail_d
    sv[4] = adj
    if u > 0:
        return d, u, adj, _fee(u, adj, costs), i
    return 0, 0.0, 0.0, 0.0, i


@njit(cache=True, inline="always")
def _tally(pnl, n_trades, wins, gross_win, gross_loss):
    """Trade statistics after one more closed trade with ``pnl``."""
    if pnl > 0:
        return n_trades + 1, wins + 1, gross_win + pnl, gross_loss
    if pnl < 0:
        return n_trades + 1, wins, gross_win, gross_loss - pnl
    return n_trades + 1, wins, gross_win, gross_loss


@njit(cache=True)
def _simulate(
    o, h, lo, c, period_end, M, ci, cc, nc, rb, k, stop_v, stop_k, stop_u, vol,
    cash0, costs, size_mode, size_value, whole, max_lev, fill_close, allow_long, allow_short,
    eq_out, tr_out, out, day_block, periods_per_year, scale,
):  # fmt: skip
    """One combination ``k``; ``eq_out``/``tr_out`` receive the equity curve and trades when they have
    rows (a single-combination run), the metrics go to ``out[:N_METRICS]``, the period-return block
    moments are added to ``out[N_METRICS:]`` (zeros on entry) when ``day_block`` has rows. Sharpe and
    Sortino are annualised by ``√periods_per_year`` (the return periods end at ``period_end`` bars)."""
    n = c.shape[0]
    ncmp = nc[k]
    a1, a2, b0, span0, cst0, alpha0 = _cmp_params(ci, cc, k, 0)
    es = np.zeros(8)
    b_le = rb[k, 0]
    b_lx = rb[k, 1]
    b_se = rb[k, 2]
    b_sx = rb[k, 3]
    ev0 = np.nan
    en0 = 0
    prev = np.int64(0)
    stops = stop_v[k, 0] > 0 or stop_v[k, 1] > 0 or stop_v[k, 2] > 0
    sv = np.full(5, np.nan)  # stop, take, trailing stop, trailing distance, best price (see _enter)
    sizing = (size_mode, size_value, whole, max_lev)
    record = eq_out.shape[0] > 0
    blocks = day_block.shape[0] > 0
    scaled = scale.shape[0] > 0

    cash = cash0
    pos = 0
    units = 0.0
    ep = 0.0
    ec = 0.0
    eb = 0
    pending = _NONE
    bust = False
    n_trades = 0
    wins = 0
    gross_win = 0.0
    gross_loss = 0.0

    peak = cash0
    trough = cash0
    max_dd = 0.0
    prev_day_eq = np.nan
    n_ret = 0
    mean_ret = 0.0
    m2_ret = 0.0
    down2 = 0.0  # sum of squared negative returns (Sortino)
    eq = cash0

    # 0. quiet bars: no pending order, no stop to watch, no event (one comparison without an EMA) and
    #    equity > 0 - only marking to market and the period returns happen. A tight inner loop runs
    #    them (about a third fewer instructions per bar than the full body, whose many live values kept
    #    it spilling to the stack); it stops before the first bar that needs the full body, with that
    #    bar's events already computed (``ready``). The rules are evaluated before the fills and stops
    #    of a bar, which they do not depend on, so the results are exactly the full body's.
    quiet = ncmp == 1 and span0 <= 0
    ra1 = M[a1]
    use_a2 = a2 >= 0
    ra2 = M[a2] if use_a2 else ra1
    use_b0 = b0 >= 0
    rb0 = M[b0] if use_b0 else ra1
    i = 0
    ready = False
    events = np.int64(0)
    state = np.int64(0)
    while i < n:
        if quiet and not bust and pending == _NONE and not (stops and pos != 0):
            while i < n:
                u = np.uint64(i)  # unsigned: no negative-index wraparound code in this loop
                av = ra1[u] - ra2[u] if use_a2 else ra1[u]
                bv = rb0[u] if use_b0 else cst0
                events, state = _events(np.int64(av < bv), np.int64(av > bv), prev, 0)
                if events != 0:
                    ready = True
                    break
                if pos != 0:
                    eq = cash + pos * units * (c[u] - ep)
                    if eq <= 0:
                        ready = True
                        break
                    if eq > peak:
                        peak = eq
                        trough = eq
                    elif eq < trough:
                        trough = eq
                        if peak > 0 and 1.0 - eq / peak > max_dd:
                            max_dd = 1.0 - eq / peak
                prev = state  # flat: eq is the cash, as the full body left it
                if period_end[u]:
                    if prev_day_eq > 0:
                        r = eq / prev_day_eq - 1.0
                        n_ret += 1
                        delta = r - mean_ret
                        mean_ret += delta / n_ret
                        m2_ret += delta * (r - mean_ret)
                        if r < 0:
                            down2 += r * r
                        if blocks:
                            bk = N_METRICS + 3 * day_block[u]
                            out[bk] += 1.0
                            out[bk + 1] += r
                            out[bk + 2] += r * r
                    prev_day_eq = eq
                if record:
                    eq_out[u] = eq
                i += 1
            if i >= n:
                break

        if not bust:
            # 1. the order decided on the previous bar fills at this bar's open
            if pending != _NONE:
                tgt = pending
                pending = _NONE
                if pos != 0 and tgt != pos:
                    px = _slip(o[i], -pos, costs)
                    dc, pnl = _close(px, i, 0, pos, units, ep, ec, eb, costs, tr_out, n_trades)
                    cash += dc
                    n_trades, wins, gross_win, gross_loss = _tally(pnl, n_trades, wins, gross_win, gross_loss)
                    pos = 0
                if tgt != 0 and pos == 0:
                    pos, units, ep, ec, eb = _enter(
                        tgt, o[i], i, i - 1, cash, vol[i - 1], costs, stop_v, stop_k, stop_u, k, sizing, sv,
                        scale[i - 1] if scaled else 1.0,
                    )  # fmt: skip
                    cash -= ec

            # 2. stops inside this bar (_stop_hit); the trailing stop then follows this bar's extreme
            if stops and pos != 0:
                reason, px = _stop_hit(o[i], h[i], lo[i], pos, sv, stop_v[k, 2], stop_k[k, 2], costs)
                if reason > 0:
                    dc, pnl = _close(px, i, reason, pos, units, ep, ec, eb, costs, tr_out, n_trades)
                    cash += dc
                    n_trades, wins, gross_win, gross_loss = _tally(pnl, n_trades, wins, gross_win, gross_loss)
                    pos = 0

            # 3. the rules at this bar's close decide the target position
            if not ready:
                av = M[a1, i] - M[a2, i] if a2 >= 0 else M[a1, i]
                lt, gt, ev0, en0 = _compare(av, M[b0, i] if b0 >= 0 else cst0, span0, alpha0, ev0, en0)
                events, state = _events(lt, gt, prev, 0)
                if ncmp > 1:
                    e, st = _more_events(M, i, ci, cc, k, ncmp, es, prev)
                    events |= e
                    state |= st
            ready = False
            prev = state
            if events != 0:
                le = _flag(events, b_le)
                se = _flag(events, b_se)
                tgt = pos
                if pos > 0 and (se or _flag(events, b_lx)):
                    tgt = 0
                elif pos < 0 and (le or _flag(events, b_sx)):
                    tgt = 0
                if le and allow_long and pos != 1:
                    tgt = 1
                elif se and allow_short and pos != -1:
                    tgt = -1
                if tgt != pos:
                    if not fill_close:
                        if i + 1 < n:
                            pending = tgt
                    else:
                        if pos != 0:
                            px = _slip(c[i], -pos, costs)
                            dc, pnl = _close(px, i, 0, pos, units, ep, ec, eb, costs, tr_out, n_trades)
                            cash += dc
                            n_trades, wins, gross_win, gross_loss = _tally(
                                pnl, n_trades, wins, gross_win, gross_loss
                            )
                            pos = 0
                        if tgt != 0:
                            pos, units, ep, ec, eb = _enter(
                                tgt, c[i], i, i, cash, vol[i], costs, stop_v, stop_k, stop_u, k, sizing, sv,
                                scale[i] if scaled else 1.0,
                            )  # fmt: skip
                            cash -= ec

            # 4. mark to market at the close; out of money ends the run (as in backtesting.py)
            if pos != 0:
                eq = cash + pos * units * (c[i] - ep)
                if eq <= 0:
                    dc, pnl = _close(c[i], i, 3, pos, units, ep, ec, eb, costs, tr_out, n_trades)
                    n_trades, wins, gross_win, gross_loss = _tally(pnl, n_trades, wins, gross_win, gross_loss)
                    pos = 0
                    eq = 0.0
                    bust = True
            else:
                eq = cash
                if eq <= 0:
                    eq = 0.0
                    bust = True

        # 5. drawdown and the period returns of Sharpe/Sortino (equity at the last bar of each period)
        if eq > peak:
            peak = eq
            trough = eq
        elif eq < trough:  # a new low since the last peak: the only place the drawdown can grow
            trough = eq
            if peak > 0 and 1.0 - eq / peak > max_dd:
                max_dd = 1.0 - eq / peak
        if period_end[i]:
            if prev_day_eq > 0:
                r = eq / prev_day_eq - 1.0
                n_ret += 1
                delta = r - mean_ret
                mean_ret += delta / n_ret
                m2_ret += delta * (r - mean_ret)
                if r < 0:
                    down2 += r * r
                if blocks:
                    bk = N_METRICS + 3 * day_block[i]
                    out[bk] += 1.0
                    out[bk + 1] += r
                    out[bk + 2] += r * r
            prev_day_eq = eq
        if record:
            eq_out[i] = eq

        i += 1

    out[0] = (eq / cash0 - 1.0) * 100.0
    annual = math.sqrt(periods_per_year)
    if n_ret >= 2 and m2_ret > 0:
        out[1] = mean_ret / math.sqrt(m2_ret / (n_ret - 1)) * annual
    else:
        out[1] = np.nan
    if n_ret >= 2 and down2 > 0:
        out[2] = mean_ret / math.sqrt(down2 / n_ret) * annual
    else:
        out[2] = np.nan
    out[3] = max_dd * 100.0
    out[4] = n_trades
    out[5] = wins / n_trades if n_trades > 0 else np.nan
    if gross_loss > 0:
        out[6] = gross_win / gross_loss
    elif gross_win > 0:
        out[6] = np.inf
    else:
        out[6] = np.nan
    out[7] = eq


@njit(cache=True, inline="always")
def _stop_hit(op, hi, lo, pos, sv, trail_v, trail_k, costs):
    """The stops of an open position inside one bar (``sv`` as :func:`_enter` fills it): (exit reason,
    fill price), reason 0 = none hit. The stop-loss or the trailing stop (the higher of the two for a
    long) first when a take-profit is touched too; a gap fills at the open; stop fills pay the slippage.
    When nothing is hit the trailing stop follows this bar's extreme (it acts from the next bar). The
    levels live in ``sv``, not in the bar loop's scalars: measured, that keeps a sweep without stops
    within a few % of the loop before trailing stops and slippage existed."""
    stop_px, take_px, trail_px = sv[0], sv[1], sv[2]
    if pos > 0:
        hit_sl = lo <= stop_px
        hit_tr = lo <= trail_px
        if hit_sl or hit_tr:
            if hit_sl and not (trail_px > stop_px):
                return 1, _slip(min(op, stop_px), -1, costs)
            return 4, _slip(min(op, trail_px), -1, costs)
        if hi >= take_px:
            return 2, max(op, take_px)
        if trail_v > 0 and hi > sv[4]:
            sv[4] = hi
            sv[2] = hi * (1.0 - trail_v) if trail_k == STOP_FRACTION else hi - sv[3]
        return 0, 0.0
    hit_sl = hi >= stop_px
    hit_tr = hi >= trail_px
    if hit_sl or hit_tr:
        if hit_sl and not (trail_px < stop_px):
            return 1, _slip(max(op, stop_px), 1, costs)
        return 4, _slip(max(op, trail_px), 1, costs)
    if lo <= take_px:
        return 2, min(op, take_px)
    if trail_v > 0 and lo < sv[4]:
        sv[4] = lo
        sv[2] = lo * (1.0 + trail_v) if trail_k == STOP_FRACTION else lo + sv[3]
    return 0, 0.0


@njit(cache=True, inline="always")
def _units(size_mode, size_value, whole, max_lev, cash, px, adj, costs, vol_now, risk):
    """Units to buy/sell at market price ``px`` (``adj`` = the entry fill after spread and slippage;
    ``risk`` = the price distance to the tighter stop, NaN without one); 0 = cannot trade."""
    if size_mode == SIZE_UNITS:
        return size_value
    if size_mode == SIZE_CASH:
        u = size_value / adj
    elif size_mode == SIZE_RISK:
        if not risk > 0 or not cash > 0:
            return 0.0
        u = cash * size_value / risk
        if u * adj > max_lev * cash:
            u = max_lev * cash / adj
    else:
        if size_mode == SIZE_FRACTION:
            f = size_value
        else:
            if not vol_now > 0:
                return 0.0
            f = min(size_value / vol_now, max_lev)
        if not f > 0 or not cash > 0:
            return 0.0
        # backtesting.py's arithmetic: adjusted price + commission per unit, floor for whole units; a
        # commission per order comes off the cash first
        per_unit = adj + (f * px * costs[C_COMMISSION]) / f + costs[C_PER_UNIT]
        if whole:
            u = (cash * f - costs[C_PER_ORDER]) // per_unit
        else:
            u = (cash * f - costs[C_PER_ORDER]) / per_unit
    if whole:
        u = math.floor(u)
    return u if u > 0 else 0.0


@njit(cache=True, parallel=True, nogil=True)
def sweep_kernel(
    o, h, lo, c, period_end, M, ci, cc, nc, rb, stop_v, stop_k, stop_u, vol,
    cash0, costs, size_mode, size_value, whole, max_lev, fill_close, allow_long, allow_short,
    eq_out, tr_out, day_block, n_blocks, periods_per_year, done, scale,
):  # fmt: skip
    """Metrics (``METRICS`` columns) of every combination; ``prange`` over combinations.

    ``eq_out`` (n bars) and ``tr_out`` (n + 2 rows of ``TRADE_FIELDS``) record the equity curve and the
    trades of a *single* combination (``run``); a sweep passes empty arrays. One compiled kernel serves
    both, so a deep backtest is exactly a sweep row. ``day_block`` (int64 per bar; empty and
    ``n_blocks = 0`` = off) adds ``3 * n_blocks`` columns of block moments (see the module docstring).
    ``period_end[i]``: bar ``i`` is the last bar of a return period (a day, or every bar when the bars
    are coarser than a day); ``periods_per_year`` annualises Sharpe and Sortino (see
    :func:`workbench.backtest.engine.annualization`). Stops and costs: see the module docstring.

    ``done`` (uint8 per combination, or empty = off) gets a 1 as each combination finishes: the kernel
    runs without the GIL, so another thread can read how far it is (progress reports). The caller sets
    Numba's parallel chunk size (set inside, it would make the function uncacheable).

    ``scale`` (float64 per bar, or empty = off): a size multiplier read at each entry's signal bar
    (the bars' ``size_scale`` column: confidence sizing, a regime filter as 0/1); 0 or NaN = no entry.
    """
    n_combos = ci.shape[0]
    out = np.zeros((n_combos, N_METRICS + 3 * n_blocks))
    for k in prange(n_combos):
        _simulate(
            o, h, lo, c, period_end, M, ci, cc, nc, rb, k, stop_v, stop_k, stop_u, vol,
            cash0, costs, size_mode, size_value, whole, max_lev, fill_close, allow_long, allow_short,
            eq_out, tr_out, out[k], day_block, periods_per_year, scale,
        )  # fmt: skip
        if done.shape[0] > 0:
            done[k] = 1
    return out


@njit(cache=True)
def signals_kernel(M, ci, cc, nc, rb):
    """The four rule flags (long_entry, long_exit, short_entry, short_exit) of combination 0 per bar."""
    n = M.shape[1]
    a1, a2, b0, span0, cst0, alpha0 = _cmp_params(ci, cc, 0, 0)
    es = np.zeros(8)
    ncmp = nc[0]
    ev0 = np.nan
    en0 = 0
    prev = np.int64(0)
    out = np.zeros((4, n), np.bool_)
    for i in range(n):
        av = M[a1, i] - M[a2, i] if a2 >= 0 else M[a1, i]
        lt, gt, ev0, en0 = _compare(av, M[b0, i] if b0 >= 0 else cst0, span0, alpha0, ev0, en0)
        events, state = _events(lt, gt, prev, 0)
        if ncmp > 1:
            e, st = _more_events(M, i, ci, cc, 0, ncmp, es, prev)
            events |= e
            state |= st
        prev = state
        for r in range(4):
            out[r, i] = _flag(events, rb[0, r])
    return out
