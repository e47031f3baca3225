"""How the results look, shared by the reports' charts and the dashboard, with no plotting
library imported (the dashboard starts without matplotlib): seaborn's default palette, the
loyalty segments in their order with their colours, and the currencies' symbols."""

from __future__ import annotations

# seaborn's "deep" palette, the reports' default colours
PALETTE = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C", "#CCB974", "#64B5CD")
# the RFM segments, best first (sql/marts/fidelite_rfm_customers.sql names them)
SEGMENTS = ("champions", "loyal", "potential loyalists", "new", "at risk", "can't lose", "hibernating", "lost")
SEGMENT_COLORS = {
    "champions": "#1a9850",
    "loyal": "#66bd63",
    "potential loyalists": "#a6d96a",
    "new": "#4575b4",
    "at risk": "#fdae61",
    "can't lose": "#d73027",
    "hibernating": "#bababa",
    "lost": "#636363",
}
CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$"}
