// A bar-replay implementation of the cAlgo.API members the generated cBots use, for measuring whether a
// generated bot trades like the workbench backtest (workbench.codegen.replay). NOT cTrader: the indicator
// values follow the WORKBENCH ENGINE's definitions (workbench/backtest/indicators.py), so a replay checks
// the bot's own logic (crossings, decisions, fills, sizing, stops) against the engine's, not cAlgo's
// indicators (those differences are the parity report's business).
//
// Time: before bar i opens, OnBarClosed runs with bar i-1 as Last(0); market orders fill at open[i]
// (Ask = Bid = open[i], no costs); stop-loss / take-profit are then checked inside bar i (a long stops at
// min(open, stop) when the low touches it, takes profit at max(open, take) when the high does, the stop
// first). Output: one CSV line per closed trade on stdout.
using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Reflection;
using cAlgo.API.Internals;
using cAlgo.API.Indicators;

namespace cAlgo.API
{
    [AttributeUsage(AttributeTargets.Class)]
    public sealed class RobotAttribute : Attribute
    {
        public string TimeZone { get; set; }
        public AccessRights AccessRights { get; set; }
        public bool AddIndicators { get; set; }
    }

    [AttributeUsage(AttributeTargets.Property)]
    public sealed class ParameterAttribute : Attribute
    {
        public ParameterAttribute(string name) { Name = name; }
        public string Name { get; set; }
        public object DefaultValue { get; set; }
        public double MinValue { get; set; }
        public double MaxValue { get; set; }
        public double Step { get; set; }
        public string Group { get; set; }
    }

    public enum AccessRights { None, Internet, FileSystem, Registry, FullAccess }
    public enum TradeType { Buy, Sell }
    public enum RoundingMode { ToNearest, Down, Up }
    public enum MovingAverageType { Simple, Exponential, TimeSeries, Triangular, VIDYA, Weighted, WilderSmoothing, Hull, DoubleExponential, TripleExponential }
    public static class TimeZones { public const string UTC = "UTC"; }

    public interface DataSeries
    {
        double this[int index] { get; }
        double LastValue { get; }
        int Count { get; }
        double Last(int index);
    }
    public interface IndicatorDataSeries : DataSeries { }

    public interface Position
    {
        TradeType TradeType { get; }
        double EntryPrice { get; }
        double? StopLoss { get; }
        double? TakeProfit { get; }
        double VolumeInUnits { get; }
    }

    public class TradeResult
    {
        public bool IsSuccessful { get; internal set; }
        public Position Position { get; internal set; }
    }

    // -- the replay --------------------------------------------------------------------------------------

    internal sealed class Clock { public int End = -1; }  // the index of the last visible bar

    internal sealed class Series : IndicatorDataSeries
    {
        private readonly double[] _v; private readonly Clock _c;
        public Series(double[] v, Clock c) { _v = v; _c = c; }
        public double this[int index] { get { return index >= 0 && index <= _c.End ? _v[index] : double.NaN; } }
        public double LastValue { get { return Last(0); } }
        public int Count { get { return _c.End + 1; } }
        public double Last(int index) { return this[_c.End - index]; }
    }

    internal sealed class SimPosition : Position
    {
        public TradeType TradeType { get; set; }
        public double EntryPrice { get; set; }
        public double? StopLoss { get; set; }
        public double? TakeProfit { get; set; }
        public double VolumeInUnits { get; set; }
        public string Label; public int EntryBar;
    }

    public abstract class Robot
    {
        internal Clock Clock = new Clock();
        internal double[] O, H, L, C;
        internal double Cash;
        internal double Price;
        internal int BarIndex;
        internal SimPosition Open;
        internal readonly List<string> Trades = new List<string>();
        internal Sim Sim;

        public string SymbolName { get { return "SIM"; } }
        public Symbol Symbol { get { return Sim; } }
        public IAccount Account { get { return Sim; } }
        public Positions Positions { get { return Sim; } }
        public IIndicatorsAccessor Indicators { get { return Sim; } }
        public Bars Bars { get { return Sim; } }

        protected virtual void OnStart() { }
        protected virtual void OnBarClosed() { }
        public void Print(string message, params object[] args) { Console.Error.WriteLine(string.Format(message, args)); }

        public TradeResult ExecuteMarketOrder(TradeType tradeType, string symbolName, double volume, string label, double? stopLossPips, double? takeProfitPips)
        {
            if (Open != null || !(volume > 0))
                return new TradeResult { IsSuccessful = false };
            int dir = tradeType == TradeType.Buy ? 1 : -1;
            Open = new SimPosition { TradeType = tradeType, EntryPrice = Price, VolumeInUnits = volume, Label = label, EntryBar = BarIndex };
            if (stopLossPips.HasValue) Open.StopLoss = Price - dir * stopLossPips.Value * Sim.PipSize;
            if (takeProfitPips.HasValue) Open.TakeProfit = Price + dir * takeProfitPips.Value * Sim.PipSize;
            return new TradeResult { IsSuccessful = true, Position = Open };
        }

        public TradeResult ClosePosition(Position position) { Close(Price, "signal"); return new TradeResult { IsSuccessful = true }; }

        public TradeResult ModifyPosition(Position position, double? stopLoss, double? takeProfit)
        {
            var p = (SimPosition)position;
            p.StopLoss = stopLoss; p.TakeProfit = takeProfit;
            return new TradeResult { IsSuccessful = true, Position = p };
        }

        internal void Close(double price, string reason)
        {
            var p = Open;
            int dir = p.TradeType == TradeType.Buy ? 1 : -1;
            double pnl = dir * p.VolumeInUnits * (price - p.EntryPrice);
            Cash += pnl;
            Trades.Add(string.Join(",", p.EntryBar.ToString(), BarIndex.ToString(), dir.ToString(),
                p.VolumeInUnits.ToString("R", CultureInfo.InvariantCulture), p.EntryPrice.ToString("R", CultureInfo.InvariantCulture),
                price.ToString("R", CultureInfo.InvariantCulture), pnl.ToString("R", CultureInfo.InvariantCulture), reason));
            Open = null;
        }

        // stops inside bar i after its open (the engine's order: the stop first)
        internal void Stops(int i)
        {
            var p = Open;
            if (p == null) return;
            bool isLong = p.TradeType == TradeType.Buy;
            if (p.StopLoss.HasValue && (isLong ? L[i] <= p.StopLoss.Value : H[i] >= p.StopLoss.Value))
                Close(isLong ? Math.Min(O[i], p.StopLoss.Value) : Math.Max(O[i], p.StopLoss.Value), "stop");
            else if (p.TakeProfit.HasValue && (isLong ? H[i] >= p.TakeProfit.Value : L[i] <= p.TakeProfit.Value))
                Close(isLong ? Math.Max(O[i], p.TakeProfit.Value) : Math.Min(O[i], p.TakeProfit.Value), "take_profit");
        }

        internal void Run()
        {
            OnStart();
            int n = C.Length;
            for (int i = 1; i < n; i++)
            {
                Clock.End = i - 1;
                BarIndex = i;
                Price = O[i];
                OnBarClosed();
                Stops(i);
            }
            foreach (var t in Trades) Console.WriteLine(t);
        }
    }
}

namespace cAlgo.API.Indicators
{
    public interface SimpleMovingAverage { IndicatorDataSeries Result { get; } }
    public interface ExponentialMovingAverage { IndicatorDataSeries Result { get; } }
    public interface RelativeStrengthIndex { IndicatorDataSeries Result { get; } }
    public interface AverageTrueRange { IndicatorDataSeries Result { get; } }
    public interface MacdCrossOver { IndicatorDataSeries MACD { get; } IndicatorDataSeries Signal { get; } }
    public interface BollingerBands { IndicatorDataSeries Top { get; } IndicatorDataSeries Main { get; } IndicatorDataSeries Bottom { get; } }
    public interface DonchianChannel { IndicatorDataSeries Top { get; } IndicatorDataSeries Bottom { get; } }
}

namespace cAlgo.API.Internals
{
    using cAlgo.API;

    public interface Symbol
    {
        double Ask { get; }
        double Bid { get; }
        double PipSize { get; }
        double VolumeInUnitsMin { get; }
        double QuantityToVolumeInUnits(double quantity);
        double NormalizeVolumeInUnits(double volume, RoundingMode roundingMode);
    }
    public interface IAccount { double Equity { get; } }
    public interface Positions { Position Find(string label, string symbolName); }
    public interface Bars { DataSeries ClosePrices { get; } DataSeries HighPrices { get; } DataSeries LowPrices { get; } }
    public interface IIndicatorsAccessor
    {
        SimpleMovingAverage SimpleMovingAverage(DataSeries source, int periods);
        ExponentialMovingAverage ExponentialMovingAverage(DataSeries source, int periods);
        RelativeStrengthIndex RelativeStrengthIndex(DataSeries source, int periods);
        MacdCrossOver MacdCrossOver(DataSeries source, int longCycle, int shortCycle, int signalPeriods);
        BollingerBands BollingerBands(DataSeries source, int periods, double standardDeviations, MovingAverageType maType);
        DonchianChannel DonchianChannel(int periods);
        AverageTrueRange AverageTrueRange(int periods, MovingAverageType maType);
    }

    internal sealed class Line : SimpleMovingAverage, ExponentialMovingAverage, RelativeStrengthIndex, AverageTrueRange
    {
        public IndicatorDataSeries Result { get; set; }
    }
    internal sealed class Macd : MacdCrossOver { public IndicatorDataSeries MACD { get; set; } public IndicatorDataSeries Signal { get; set; } }
    internal sealed class Bands : BollingerBands, DonchianChannel
    {
        public IndicatorDataSeries Top { get; set; } public IndicatorDataSeries Main { get; set; } public IndicatorDataSeries Bottom { get; set; }
    }

    // the engine's indicator definitions (workbench/backtest/indicators.py)
    internal static class Ta
    {
        public static double[] Sma(double[] x, int n)
        {
            var o = Nan(x.Length);
            double s = 0;
            for (int i = 0; i < x.Length; i++) { s += x[i]; if (i >= n) s -= x[i - n]; if (i >= n - 1) o[i] = s / n; }
            return o;
        }
        // ewm(alpha, adjust=False, min_periods) over the non-NaN values
        public static double[] Ewm(double[] x, double alpha, int minPeriods)
        {
            var o = Nan(x.Length);
            double avg = double.NaN; int nobs = 0;
            for (int i = 0; i < x.Length; i++)
            {
                double cur = x[i];
                if (!double.IsNaN(cur))
                {
                    nobs++;
                    if (double.IsNaN(avg)) avg = cur;
                    else if (avg != cur) avg = ((1 - alpha) * avg + alpha * cur) / ((1 - alpha) + alpha);
                }
                if (nobs >= minPeriods && !double.IsNaN(avg)) o[i] = avg;
            }
            return o;
        }
        public static double[] Ema(double[] x, int n) { return Ewm(x, 2.0 / (n + 1.0), n); }
        public static double[] Rma(double[] x, int n) { return Ewm(x, 1.0 / n, n); }
        public static double[] Rsi(double[] x, int n)
        {
            var g = Nan(x.Length); var l = Nan(x.Length);
            for (int i = 1; i < x.Length; i++) { double d = x[i] - x[i - 1]; g[i] = d > 0 ? d : 0; l[i] = d < 0 ? -d : 0; }
            var ag = Rma(g, n); var al = Rma(l, n); var o = Nan(x.Length);
            for (int i = 0; i < x.Length; i++)
                if (!double.IsNaN(ag[i]) && !double.IsNaN(al[i]))
                    o[i] = al[i] == 0 ? (ag[i] == 0 ? 50 : 100) : 100 - 100 / (1 + ag[i] / al[i]);
            return o;
        }
        public static double[] Std(double[] x, int n)
        {
            var o = Nan(x.Length);
            for (int i = n - 1; i < x.Length; i++)
            {
                double m = 0; for (int j = i - n + 1; j <= i; j++) m += x[j]; m /= n;
                double s = 0; for (int j = i - n + 1; j <= i; j++) s += (x[j] - m) * (x[j] - m);
                o[i] = Math.Sqrt(s / n);
            }
            return o;
        }
        public static double[] Nan(int n) { var o = new double[n]; for (int i = 0; i < n; i++) o[i] = double.NaN; return o; }
    }

    internal sealed class Sim : Symbol, IAccount, Positions, Bars, IIndicatorsAccessor
    {
        private readonly Robot _r; private readonly double _pip;
        public Sim(Robot r, double pip) { _r = r; _pip = pip; }
        private double[] Src(DataSeries s) { return ReferenceEquals(s, ClosePrices) ? _r.C : null; }
        private IndicatorDataSeries S(double[] v) { return new Series(v, _r.Clock); }

        public double Ask { get { return _r.Price; } }
        public double Bid { get { return _r.Price; } }
        public double PipSize { get { return _pip; } }
        public double VolumeInUnitsMin { get { return 0; } }
        public double QuantityToVolumeInUnits(double quantity) { return quantity * 100000; }
        public double NormalizeVolumeInUnits(double volume, RoundingMode roundingMode) { return volume; }
        public double Equity { get { var p = _r.Open; return p == null ? _r.Cash : _r.Cash + (p.TradeType == TradeType.Buy ? 1 : -1) * p.VolumeInUnits * (_r.Price - p.EntryPrice); } }
        public Position Find(string label, string symbolName) { return _r.Open != null && _r.Open.Label == label ? _r.Open : null; }

        private DataSeries _close, _high, _low;
        public DataSeries ClosePrices { get { return _close ?? (_close = S(_r.C)); } }
        public DataSeries HighPrices { get { return _high ?? (_high = S(_r.H)); } }
        public DataSeries LowPrices { get { return _low ?? (_low = S(_r.L)); } }

        public SimpleMovingAverage SimpleMovingAverage(DataSeries source, int periods) { return new Line { Result = S(Ta.Sma(Src(source), periods)) }; }
        public ExponentialMovingAverage ExponentialMovingAverage(DataSeries source, int periods) { return new Line { Result = S(Ta.Ema(Src(source), periods)) }; }
        public RelativeStrengthIndex RelativeStrengthIndex(DataSeries source, int periods) { return new Line { Result = S(Ta.Rsi(Src(source), periods)) }; }
        public MacdCrossOver MacdCrossOver(DataSeries source, int longCycle, int shortCycle, int signalPeriods)
        {
            var f = Ta.Ema(Src(source), shortCycle); var s = Ta.Ema(Src(source), longCycle);
            var m = new double[f.Length]; for (int i = 0; i < m.Length; i++) m[i] = f[i] - s[i];
            return new Macd { MACD = S(m), Signal = S(Ta.Ema(m, signalPeriods)) };
        }
        public BollingerBands BollingerBands(DataSeries source, int periods, double k, MovingAverageType maType)
        {
            var x = Src(source); var m = Ta.Sma(x, periods); var sd = Ta.Std(x, periods);
            var top = new double[x.Length]; var bottom = new double[x.Length];
            for (int i = 0; i < x.Length; i++) { top[i] = sd[i] > 0 ? m[i] + k * sd[i] : double.NaN; bottom[i] = sd[i] > 0 ? m[i] - k * sd[i] : double.NaN; }
            var mid = new double[x.Length]; for (int i = 0; i < x.Length; i++) mid[i] = sd[i] > 0 ? m[i] : double.NaN;
            return new Bands { Top = S(top), Main = S(mid), Bottom = S(bottom) };
        }
        public DonchianChannel DonchianChannel(int periods)
        {
            int n = _r.C.Length; var top = Ta.Nan(n); var bottom = Ta.Nan(n);
            for (int i = periods - 1; i < n; i++)
            {
                double hi = double.NegativeInfinity, lo = double.PositiveInfinity;
                for (int j = i - periods + 1; j <= i; j++) { hi = Math.Max(hi, _r.H[j]); lo = Math.Min(lo, _r.L[j]); }
                top[i] = hi; bottom[i] = lo;
            }
            return new Bands { Top = S(top), Bottom = S(bottom) };
        }
        public AverageTrueRange AverageTrueRange(int periods, MovingAverageType maType)
        {
            int n = _r.C.Length; var tr = new double[n];
            for (int i = 0; i < n; i++)
            {
                tr[i] = _r.H[i] - _r.L[i];
                if (i > 0) tr[i] = Math.Max(tr[i], Math.Max(Math.Abs(_r.H[i] - _r.C[i - 1]), Math.Abs(_r.L[i] - _r.C[i - 1])));
            }
            return new Line { Result = S(Ta.Rma(tr, periods)) };
        }
    }
}

namespace cAlgo.Replay
{
    using cAlgo.API;
    using cAlgo.API.Internals;

    // replay.exe BOT.dll BARS.csv CASH PIP: the one Robot subclass of BOT.dll (compiled against this
    // assembly) over the bars (open,high,low,close)
    public static class Program
    {
        public static int Main(string[] args)
        {
            var ci = CultureInfo.InvariantCulture;
            var rows = File.ReadAllLines(args[1]).Skip(1).Select(l => l.Split(',').Select(v => double.Parse(v, ci)).ToArray()).ToArray();
            var type = Assembly.LoadFrom(args[0]).GetTypes().Single(t => t.IsSubclassOf(typeof(Robot)) && !t.IsAbstract);
            var bot = (Robot)Activator.CreateInstance(type);
            foreach (var prop in type.GetProperties())  // the [Parameter] defaults, as cTrader sets them
            {
                var attr = prop.GetCustomAttributes(typeof(ParameterAttribute), true).Cast<ParameterAttribute>().FirstOrDefault();
                if (attr == null || attr.DefaultValue == null) continue;
                var t = prop.PropertyType;
                prop.SetValue(bot, t.IsEnum ? attr.DefaultValue : Convert.ChangeType(attr.DefaultValue, t, ci), null);
            }
            bot.O = rows.Select(r => r[0]).ToArray(); bot.H = rows.Select(r => r[1]).ToArray();
            bot.L = rows.Select(r => r[2]).ToArray(); bot.C = rows.Select(r => r[3]).ToArray();
            bot.Cash = double.Parse(args[2], ci);
            bot.Sim = new Sim(bot, double.Parse(args[3], ci));
            bot.Run();
            return 0;
        }
    }
}
