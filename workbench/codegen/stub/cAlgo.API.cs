// Reference stub of the cAlgo.API surface (cTrader Automate), for compile checks only.
//
// Written from cTrader's published API reference (https://help.ctrader.com/ctrader-algo/references/):
// the types, members and signatures the workbench's generated cBots use, plus those of ten real
// open-source cBots (tests/integration/test_codegen_compile.py), old style (2014-2015: MarketSeries, the
// Symbol-object overloads with long volumes) and new style (Bars, symbol names, double volumes in units).
// Every member has the published signature; no body does anything (nothing here runs a bot). Types that
// are interfaces in cAlgo.API are interfaces here. Not a complete copy of the API: a member missing here
// fails the check with CS0117/CS1061 naming it, and is added from the reference.
using System;
using System.Collections.Generic;
using cAlgo.API.Internals;
using cAlgo.API.Indicators;

namespace cAlgo.API
{
    // -- attributes ---------------------------------------------------------------------------------
    [AttributeUsage(AttributeTargets.Class)]
    public sealed class RobotAttribute : Attribute
    {
        public RobotAttribute() { }
        public RobotAttribute(string name) { Name = name; }
        public string Name { get; set; }
        public string TimeZone { get; set; }
        public AccessRights AccessRights { get; set; }
        public bool AddIndicators { get; set; }
    }

    [AttributeUsage(AttributeTargets.Class)]
    public sealed class IndicatorAttribute : Attribute
    {
        public IndicatorAttribute() { }
        public IndicatorAttribute(string name) { Name = name; }
        public string Name { get; set; }
        public bool IsOverlay { get; set; }
        public string TimeZone { get; set; }
        public AccessRights AccessRights { get; set; }
        public int ScalePrecision { get; set; }
        public bool AutoRescale { get; set; }
    }

    [AttributeUsage(AttributeTargets.Property)]
    public sealed class ParameterAttribute : Attribute
    {
        public ParameterAttribute() { }
        public ParameterAttribute(string name) { Name = name; }
        public string Name { get; set; }
        public object DefaultValue { get; set; }
        public double MinValue { get; set; }
        public double MaxValue { get; set; }
        public double Step { get; set; }
        public string Group { get; set; }
    }

    [AttributeUsage(AttributeTargets.Property)]
    public sealed class OutputAttribute : Attribute
    {
        public OutputAttribute(string name) { Name = name; }
        public string Name { get; set; }
        public string LineColor { get; set; }
        public PlotType PlotType { get; set; }
        public LineStyle LineStyle { get; set; }
        public float Thickness { get; set; }
        public bool IsHistogram { get; set; }
    }

    [AttributeUsage(AttributeTargets.Class, AllowMultiple = true)]
    public sealed class LevelsAttribute : Attribute
    {
        public LevelsAttribute(params double[] levels) { Levels = levels; }
        public double[] Levels { get; set; }
    }

    public enum AccessRights { None, Internet, FileSystem, Registry, FullAccess }
    public enum PlotType { Line, Histogram, Points, DiscontinuousLine }
    public enum LineStyle { Solid, Dots, DotsRare, DotsVeryRare, Lines, LinesDots }
    public enum TradeType { Buy, Sell }
    public enum RoundingMode { ToNearest, Down, Up }
    public enum RunningMode { RealTime, SilentBacktesting, VisualBacktesting, Optimization }
    public enum StopTriggerMethod { Trade, Opposite, DoubleTrade, DoubleOpposite }
    public enum ErrorCode { TechnicalError, BadVolume, NoMoney, MarketClosed, Disconnected, EntityNotFound, Timeout, UnknownSymbol, InvalidStopLossTakeProfit, InvalidRequest }
    public enum StaticPosition { TopLeft, Top, TopRight, Right, BottomRight, Bottom, BottomLeft, Left, Center }
    public enum Colors { White, Black, Red, Green, Blue, Yellow, Orange, Gray, Lime, Magenta, Cyan }
    public enum MovingAverageType { Simple, Exponential, TimeSeries, Triangular, VIDYA, Weighted, WilderSmoothing, Hull, DoubleExponential, TripleExponential }

    /// <summary>Time zone names for RobotAttribute.TimeZone / IndicatorAttribute.TimeZone (constants).</summary>
    public static class TimeZones
    {
        public const string UTC = "UTC";
        public const string EasternStandardTime = "Eastern Standard Time";
        public const string CentralEuropeStandardTime = "Central Europe Standard Time";
        public const string GMTStandardTime = "GMT Standard Time";
        public const string WEuropeStandardTime = "W. Europe Standard Time";
        public const string TokyoStandardTime = "Tokyo Standard Time";
        public const string EEuropeStandardTime = "E. Europe Standard Time";
    }

    public class TimeFrame
    {
        private readonly string _name;
        private TimeFrame(string name) { _name = name; }
        public string Name { get { return _name; } }
        public string ShortName { get { return _name; } }
        public static readonly TimeFrame Minute = new TimeFrame("m1");
        public static readonly TimeFrame Minute2 = new TimeFrame("m2");
        public static readonly TimeFrame Minute5 = new TimeFrame("m5");
        public static readonly TimeFrame Minute10 = new TimeFrame("m10");
        public static readonly TimeFrame Minute15 = new TimeFrame("m15");
        public static readonly TimeFrame Minute30 = new TimeFrame("m30");
        public static readonly TimeFrame Hour = new TimeFrame("h1");
        public static readonly TimeFrame Hour4 = new TimeFrame("h4");
        public static readonly TimeFrame Daily = new TimeFrame("D1");
        public static readonly TimeFrame Weekly = new TimeFrame("W1");
        public static readonly TimeFrame Monthly = new TimeFrame("Month1");
        public static bool operator ==(TimeFrame a, TimeFrame b) { return ReferenceEquals(a, b) || (!ReferenceEquals(a, null) && !ReferenceEquals(b, null) && a._name == b._name); }
        public static bool operator !=(TimeFrame a, TimeFrame b) { return !(a == b); }
        public override bool Equals(object obj) { return this == (obj as TimeFrame); }
        public override int GetHashCode() { return _name.GetHashCode(); }
        public override string ToString() { return _name; }
    }

    // -- series -------------------------------------------------------------------------------------
    public interface DataSeries : IEnumerable<double>
    {
        double this[int index] { get; }
        double LastValue { get; }
        int Count { get; }
        double Last(int index);
    }

    public interface IndicatorDataSeries : DataSeries
    {
        new double this[int index] { get; set; }
    }

    public interface TimeSeries : IEnumerable<DateTime>
    {
        DateTime this[int index] { get; }
        DateTime LastValue { get; }
        int Count { get; }
        DateTime Last(int index);
        int GetIndexByTime(DateTime dateTime);
        int GetIndexByExactTime(DateTime dateTime);
    }

    public struct Bar
    {
        public DateTime OpenTime { get; set; }
        public double Open { get; set; }
        public double High { get; set; }
        public double Low { get; set; }
        public double Close { get; set; }
        public double TickVolume { get; set; }
    }

    public interface Bars : IEnumerable<Bar>
    {
        Bar this[int index] { get; }
        Bar LastBar { get; }
        int Count { get; }
        TimeFrame TimeFrame { get; }
        string SymbolName { get; }
        DataSeries OpenPrices { get; }
        DataSeries HighPrices { get; }
        DataSeries LowPrices { get; }
        DataSeries ClosePrices { get; }
        DataSeries TickVolumes { get; }
        DataSeries MedianPrices { get; }
        DataSeries TypicalPrices { get; }
        DataSeries WeightedPrices { get; }
        TimeSeries OpenTimes { get; }
        Bar Last(int index);
        int LoadMoreHistory();
        event Action<BarOpenedEventArgs> BarOpened;
        event Action<BarClosedEventArgs> BarClosed;
    }

    public class BarOpenedEventArgs : EventArgs { public Bars Bars { get; private set; } }
    public class BarClosedEventArgs : EventArgs { public Bars Bars { get; private set; } }

    public static class DataSeriesExtensions
    {
        public static bool IsRising(this DataSeries series) { return series.Last(0) > series.Last(1); }
        public static bool IsFalling(this DataSeries series) { return series.Last(0) < series.Last(1); }
        public static double Maximum(this DataSeries series, int periods) { return double.NaN; }
        public static double Minimum(this DataSeries series, int periods) { return double.NaN; }
        public static double Sum(this DataSeries series, int periods) { return double.NaN; }
        public static bool HasCrossedAbove(this DataSeries series, DataSeries crossedSeries, int period) { return false; }
        public static bool HasCrossedAbove(this DataSeries series, double value, int period) { return false; }
        public static bool HasCrossedBelow(this DataSeries series, DataSeries crossedSeries, int period) { return false; }
        public static bool HasCrossedBelow(this DataSeries series, double value, int period) { return false; }
    }

    // -- trading ------------------------------------------------------------------------------------
    public interface Position
    {
        long Id { get; }
        string SymbolName { get; }
        [Obsolete("Use SymbolName")] string SymbolCode { get; }
        TradeType TradeType { get; }
        [Obsolete("Use VolumeInUnits")] long Volume { get; }
        double VolumeInUnits { get; }
        double Quantity { get; }
        double EntryPrice { get; }
        double CurrentPrice { get; }
        DateTime EntryTime { get; }
        double? StopLoss { get; }
        double? TakeProfit { get; }
        bool HasTrailingStop { get; }
        double GrossProfit { get; }
        double NetProfit { get; }
        double Commissions { get; }
        double Swap { get; }
        double Pips { get; }
        string Label { get; }
        string Comment { get; }
        TradeResult Close();
        TradeResult ModifyStopLossPrice(double? stopLoss);
        TradeResult ModifyTakeProfitPrice(double? takeProfit);
        TradeResult ModifyStopLossPips(double? stopLossPips);
        TradeResult ModifyTakeProfitPips(double? takeProfitPips);
        TradeResult ModifyVolume(double volume);
    }

    public interface PendingOrder
    {
        int Id { get; }
        string Label { get; }
        TradeType TradeType { get; }
        double TargetPrice { get; }
        double VolumeInUnits { get; }
    }

    public interface HistoricalTrade
    {
        int ClosingDealId { get; }
        int PositionId { get; }
        string SymbolName { get; }
        TradeType TradeType { get; }
        double VolumeInUnits { get; }
        DateTime EntryTime { get; }
        double EntryPrice { get; }
        DateTime ClosingTime { get; }
        double ClosingPrice { get; }
        string Label { get; }
        string Comment { get; }
        double Commissions { get; }
        double Swap { get; }
        double Pips { get; }
        double GrossProfit { get; }
        double NetProfit { get; }
        double Balance { get; }
    }

    public class TradeResult
    {
        public bool IsSuccessful { get; protected set; }
        public ErrorCode? Error { get; protected set; }
        public Position Position { get; protected set; }
        public PendingOrder PendingOrder { get; protected set; }
        public override string ToString() { return IsSuccessful ? "Success" : "Error"; }
    }

    public enum PositionCloseReason { Closed, StopLoss, TakeProfit, StopOut }

    public class PositionOpenedEventArgs : EventArgs { public Position Position { get; protected set; } }
    public class PositionClosedEventArgs : EventArgs
    {
        public Position Position { get; protected set; }
        public PositionCloseReason Reason { get; protected set; }
    }
    public class PositionModifiedEventArgs : EventArgs { public Position Position { get; protected set; } }
    public class SymbolTickEventArgs : EventArgs
    {
        public string SymbolName { get; protected set; }
        public Symbol Symbol { get; protected set; }
        public double Bid { get; protected set; }
        public double Ask { get; protected set; }
    }

    public interface Timer
    {
        TimeSpan Interval { get; }
        void Start(int intervalInSeconds);
        void Start(TimeSpan interval);
        void Stop();
        event Action TimerTick;
    }

    public interface ChartObjects
    {
        void DrawText(string objectName, string text, StaticPosition position, Colors? color = null);
        void DrawText(string objectName, string text, int index, double yValue, VerticalAlignment vAlign = VerticalAlignment.Center, HorizontalAlignment hAlign = HorizontalAlignment.Center, Colors? color = null);
        void DrawHorizontalLine(string objectName, double y, Colors color, double thickness = 1, LineStyle style = LineStyle.Solid);
        void RemoveObject(string objectName);
        void RemoveAllObjects();
    }

    public enum VerticalAlignment { Center, Top, Bottom }
    public enum HorizontalAlignment { Center, Left, Right }

    public interface Chart
    {
        string SymbolName { get; }
        TimeFrame TimeFrame { get; }
    }

    // -- the algorithm base classes -------------------------------------------------------------------
    public abstract class Algo
    {
        public Symbol Symbol { get { return null; } }
        public string SymbolName { get { return null; } }
        public Symbols Symbols { get { return null; } }
        public IAccount Account { get { return null; } }
        public Bars Bars { get { return null; } }
        [Obsolete("Use Bars")] public MarketSeries MarketSeries { get { return null; } }
        public MarketData MarketData { get { return null; } }
        public TimeFrame TimeFrame { get { return null; } }
        public DateTime Time { get { return default(DateTime); } }
        public IServer Server { get { return null; } }
        public IIndicatorsAccessor Indicators { get { return null; } }
        public Chart Chart { get { return null; } }
        [Obsolete("Use Chart")] public ChartObjects ChartObjects { get { return null; } }
        public Timer Timer { get { return null; } }
        public RunningMode RunningMode { get { return RunningMode.RealTime; } }
        public bool IsBacktesting { get { return false; } }
        public TimeZoneInfo TimeZone { get { return null; } }
        public void Print(object value) { }
        public void Print(string message, params object[] parameters) { }
        public IndicatorDataSeries CreateDataSeries() { return null; }
    }

    public abstract class Robot : Algo
    {
        public Positions Positions { get { return null; } }
        public History History { get { return null; } }
        public PendingOrders PendingOrders { get { return null; } }
        public TradeResult LastResult { get { return null; } }

        protected virtual void OnStart() { }
        protected virtual void OnStop() { }
        protected virtual void OnTick() { }
        protected virtual void OnBar() { }
        protected virtual void OnBarClosed() { }
        protected virtual void OnTimer() { }
        protected virtual void OnError(Error error) { }
        protected virtual double GetFitness(GetFitnessArgs args) { return 0; }
        public void Stop() { }

        // old style: a Symbol object and a volume in units as long (Symbol.QuantityToVolume)
        public TradeResult ExecuteMarketOrder(TradeType tradeType, Symbol symbol, long volume) { return null; }
        public TradeResult ExecuteMarketOrder(TradeType tradeType, Symbol symbol, long volume, string label) { return null; }
        public TradeResult ExecuteMarketOrder(TradeType tradeType, Symbol symbol, long volume, string label, double? stopLossPips, double? takeProfitPips) { return null; }
        public TradeResult ExecuteMarketOrder(TradeType tradeType, Symbol symbol, long volume, string label, double? stopLossPips, double? takeProfitPips, double? marketRangePips) { return null; }
        public TradeResult ExecuteMarketOrder(TradeType tradeType, Symbol symbol, long volume, string label, double? stopLossPips, double? takeProfitPips, double? marketRangePips, string comment) { return null; }
        public TradeResult ExecuteMarketOrder(TradeType tradeType, Symbol symbol, long volume, string label, double? stopLossPips, double? takeProfitPips, double? marketRangePips, string comment, bool hasTrailingStop) { return null; }
        // new style: a symbol name and a volume in units as double (Symbol.QuantityToVolumeInUnits)
        public TradeResult ExecuteMarketOrder(TradeType tradeType, string symbolName, double volume) { return null; }
        public TradeResult ExecuteMarketOrder(TradeType tradeType, string symbolName, double volume, string label) { return null; }
        public TradeResult ExecuteMarketOrder(TradeType tradeType, string symbolName, double volume, string label, double? stopLossPips, double? takeProfitPips) { return null; }
        public TradeResult ExecuteMarketOrder(TradeType tradeType, string symbolName, double volume, string label, double? stopLossPips, double? takeProfitPips, string comment) { return null; }
        public TradeResult ExecuteMarketOrder(TradeType tradeType, string symbolName, double volume, string label, double? stopLossPips, double? takeProfitPips, string comment, bool hasTrailingStop) { return null; }
        public TradeResult ExecuteMarketOrder(TradeType tradeType, string symbolName, double volume, string label, double? stopLossPips, double? takeProfitPips, string comment, bool hasTrailingStop, StopTriggerMethod? stopLossTriggerMethod) { return null; }

        public TradeResult ClosePosition(Position position) { return null; }
        public TradeResult ClosePosition(Position position, long volume) { return null; }
        public TradeResult ClosePosition(Position position, double volume) { return null; }
        public TradeResult ModifyPosition(Position position, double? stopLoss, double? takeProfit) { return null; }
        public TradeResult ModifyPosition(Position position, double? stopLoss, double? takeProfit, bool hasTrailingStop) { return null; }
        public TradeResult ModifyPosition(Position position, long volume) { return null; }
        public TradeResult ModifyPosition(Position position, double volume) { return null; }
        public TradeResult CancelPendingOrder(PendingOrder pendingOrder) { return null; }
    }

    public abstract class Indicator : Algo
    {
        public abstract void Calculate(int index);
        protected virtual void Initialize() { }
        public bool IsLastBar { get { return false; } }
    }

    public class Error
    {
        public ErrorCode Code { get; protected set; }
        public TradeResult TradeResult { get; protected set; }
    }

    public class GetFitnessArgs
    {
        public History History { get; protected set; }
        public double NetProfit { get; protected set; }
        public double MaxEquityDrawdownPercentages { get; protected set; }
        public double WinningTrades { get; protected set; }
        public double LosingTrades { get; protected set; }
        public double TotalTrades { get; protected set; }
    }
}

namespace cAlgo.API.Internals
{
    using cAlgo.API;

    public interface Symbol
    {
        string Name { get; }
        [Obsolete("Use Name")] string Code { get; }
        string Description { get; }
        double Ask { get; }
        double Bid { get; }
        double Spread { get; }
        double PipSize { get; }
        double PipValue { get; }
        double TickSize { get; }
        double TickValue { get; }
        int Digits { get; }
        double LotSize { get; }
        double VolumeInUnitsMin { get; }
        double VolumeInUnitsMax { get; }
        double VolumeInUnitsStep { get; }
        [Obsolete("Use VolumeInUnitsMin")] long VolumeMin { get; }
        [Obsolete("Use VolumeInUnitsMax")] long VolumeMax { get; }
        [Obsolete("Use VolumeInUnitsStep")] long VolumeStep { get; }
        double UnrealizedNetProfit { get; }
        double UnrealizedGrossProfit { get; }
        [Obsolete("Use QuantityToVolumeInUnits")] long QuantityToVolume(double quantity);
        double QuantityToVolumeInUnits(double quantity);
        double VolumeInUnitsToQuantity(double volume);
        [Obsolete("Use NormalizeVolumeInUnits")] long NormalizeVolume(double volume, RoundingMode roundingMode);
        double NormalizeVolumeInUnits(double volume);
        double NormalizeVolumeInUnits(double volume, RoundingMode roundingMode);
        event Action<SymbolTickEventArgs> Tick;
    }

    public interface Symbols : IEnumerable<string>
    {
        int Count { get; }
        string this[int index] { get; }
        Symbol GetSymbol(string symbolName);
        Symbol[] GetSymbols(params string[] symbolNames);
        bool Exists(string symbolName);
    }

    public interface IAccount
    {
        double Balance { get; }
        double Equity { get; }
        double Margin { get; }
        double FreeMargin { get; }
        double? MarginLevel { get; }
        double UnrealizedNetProfit { get; }
        double PreciseLeverage { get; }
        string Currency { get; }
        bool IsLive { get; }
        int Number { get; }
        string BrokerName { get; }
    }

    public interface IServer
    {
        DateTime Time { get; }
        DateTime TimeInUtc { get; }
        bool IsConnected { get; }
    }

    [Obsolete("Use Bars")]
    public interface MarketSeries
    {
        DataSeries Open { get; }
        DataSeries High { get; }
        DataSeries Low { get; }
        DataSeries Close { get; }
        DataSeries Median { get; }
        DataSeries Typical { get; }
        DataSeries Weighted { get; }
        DataSeries TickVolume { get; }
        TimeSeries OpenTime { get; }
        TimeFrame TimeFrame { get; }
        string SymbolCode { get; }
    }

    public interface MarketData
    {
        Symbol GetSymbol(string symbolCode);
        Bars GetBars(TimeFrame timeFrame);
        Bars GetBars(TimeFrame timeFrame, string symbolName);
        MarketSeries GetSeries(TimeFrame timeFrame);
        MarketSeries GetSeries(Symbol symbol, TimeFrame timeFrame);
    }

    public interface Positions : IEnumerable<Position>
    {
        int Count { get; }
        Position this[int index] { get; }
        Position Find(string label);
        Position Find(string label, Symbol symbol);
        Position Find(string label, Symbol symbol, TradeType tradeType);
        Position Find(string label, string symbolName);
        Position Find(string label, string symbolName, TradeType tradeType);
        Position[] FindAll(string label);
        Position[] FindAll(string label, Symbol symbol);
        Position[] FindAll(string label, Symbol symbol, TradeType tradeType);
        Position[] FindAll(string label, string symbolName);
        Position[] FindAll(string label, string symbolName, TradeType tradeType);
        event Action<PositionOpenedEventArgs> Opened;
        event Action<PositionClosedEventArgs> Closed;
        event Action<PositionModifiedEventArgs> Modified;
    }

    public interface History : IEnumerable<HistoricalTrade>
    {
        int Count { get; }
        HistoricalTrade this[int index] { get; }
        HistoricalTrade FindLast(string label);
        HistoricalTrade FindLast(string label, Symbol symbol);
        HistoricalTrade FindLast(string label, string symbolName);
        HistoricalTrade[] FindAll(string label);
        HistoricalTrade[] FindAll(string label, Symbol symbol);
        HistoricalTrade[] FindAll(string label, string symbolName);
    }

    public interface PendingOrders : IEnumerable<PendingOrder>
    {
        int Count { get; }
        PendingOrder this[int index] { get; }
    }

    public interface IIndicatorsAccessor
    {
        SimpleMovingAverage SimpleMovingAverage(DataSeries source, int periods);
        ExponentialMovingAverage ExponentialMovingAverage(DataSeries source, int periods);
        WeightedMovingAverage WeightedMovingAverage(DataSeries source, int periods);
        MovingAverage MovingAverage(DataSeries source, int periods, MovingAverageType maType);
        RelativeStrengthIndex RelativeStrengthIndex(DataSeries source, int periods);
        MacdCrossOver MacdCrossOver(int longCycle, int shortCycle, int signalPeriods);
        MacdCrossOver MacdCrossOver(DataSeries source, int longCycle, int shortCycle, int signalPeriods);
        MacdHistogram MacdHistogram(int longCycle, int shortCycle, int signalPeriods);
        MacdHistogram MacdHistogram(DataSeries source, int longCycle, int shortCycle, int signalPeriods);
        BollingerBands BollingerBands(DataSeries source, int periods, double standardDeviations, MovingAverageType maType);
        BollingerBands BollingerBands(DataSeries source, int periods, double standardDeviations, MovingAverageType maType, int shift);
        DonchianChannel DonchianChannel(int periods);
        DonchianChannel DonchianChannel(Bars bars, int periods);
        AverageTrueRange AverageTrueRange(int periods, MovingAverageType maType);
        AverageTrueRange AverageTrueRange(Bars bars, int periods, MovingAverageType maType);
        AverageTrueRange AverageTrueRange(MarketSeries marketSeries, int periods, MovingAverageType maType);
        TrueRange TrueRange();
        TrueRange TrueRange(Bars bars);
        TrueRange TrueRange(MarketSeries marketSeries);
        StandardDeviation StandardDeviation(DataSeries source, int periods, MovingAverageType maType);
        StochasticOscillator StochasticOscillator(int kPeriods, int kSlowing, int dPeriods, MovingAverageType maType);
        StochasticOscillator StochasticOscillator(Bars bars, int kPeriods, int kSlowing, int dPeriods, MovingAverageType maType);
        WilliamsPctR WilliamsPctR(int periods);
        WilliamsPctR WilliamsPctR(Bars bars, int periods);
        TIndicator GetIndicator<TIndicator>(params object[] parameterValues) where TIndicator : Indicator;
    }
}

namespace cAlgo.API.Indicators
{
    using cAlgo.API;

    public interface SimpleMovingAverage { IndicatorDataSeries Result { get; } }
    public interface ExponentialMovingAverage { IndicatorDataSeries Result { get; } }
    public interface WeightedMovingAverage { IndicatorDataSeries Result { get; } }
    public interface MovingAverage { IndicatorDataSeries Result { get; } }
    public interface RelativeStrengthIndex { IndicatorDataSeries Result { get; } }
    public interface MacdCrossOver
    {
        IndicatorDataSeries MACD { get; }
        IndicatorDataSeries Signal { get; }
        IndicatorDataSeries Histogram { get; }
    }
    public interface MacdHistogram
    {
        IndicatorDataSeries Histogram { get; }
        IndicatorDataSeries Signal { get; }
    }
    public interface BollingerBands
    {
        IndicatorDataSeries Top { get; }
        IndicatorDataSeries Main { get; }
        IndicatorDataSeries Bottom { get; }
    }
    public interface DonchianChannel
    {
        IndicatorDataSeries Top { get; }
        IndicatorDataSeries Middle { get; }
        IndicatorDataSeries Bottom { get; }
    }
    public interface AverageTrueRange { IndicatorDataSeries Result { get; } }
    public interface TrueRange { IndicatorDataSeries Result { get; } }
    public interface StandardDeviation { IndicatorDataSeries Result { get; } }
    public interface StochasticOscillator
    {
        IndicatorDataSeries PercentK { get; }
        IndicatorDataSeries PercentD { get; }
    }
    public interface WilliamsPctR { IndicatorDataSeries Result { get; } }
}

namespace cAlgo.Indicators
{
    // The legacy namespace of cAlgo's built-in indicator implementations, still imported by older cBots
    // (`using cAlgo.Indicators;`). A using directive needs the namespace to hold at least one public type.
    public static class LegacyNamespace { }
}
