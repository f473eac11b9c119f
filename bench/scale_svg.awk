# bench/scale_svg.awk — scale.svg for bench/scale.sh: seconds of each stage against corpus size
# in chunks, both axes logarithmic (a straight line of slope 1 is linear growth), one line and
# colour per stage, a dashed grey guide of slope 1 through the first size's total, the legend
# listing only the stages drawn.
# Input: "STAGE CHUNKS SECONDS" lines, stages in the order they should be listed.
function lx(v) { return L + (log(v) - lx0) / (lx1 - lx0) * (R - L) }
function ly(v) { return B - (log(v) - ly0) / (ly1 - ly0) * (B - T) }
function fmt(v) { return v >= 1e6 ? sprintf("%gM", v / 1e6) : v >= 1e3 ? sprintf("%gk", v / 1e3) : sprintf("%g", v) }
BEGIN { W = 720; H = 440; L = 70; R = 560; T = 24; B = 380
        split("#1f77b4 #ff7f0e #2ca02c #d62728 #9467bd #8c564b #e377c2 #17becf", col, " ") }
NF == 3 && $2 > 0 && $3 > 0 {
  if (!($1 in idx)) { idx[$1] = ++ns; name[ns] = $1 }
  s = idx[$1]; k = ++np[s]; X[s, k] = $2; Y[s, k] = $3
  if (xmin == "" || $2 < xmin) xmin = $2; if ($2 > xmax) xmax = $2
  if (ymin == "" || $3 < ymin) ymin = $3; if ($3 > ymax) ymax = $3
}
END {
  if (!ns) { xmin = 1e5; xmax = 1e6; ymin = 1; ymax = 100 }
  # whole decades around the data on y, at least a factor 8 of room on x (one size: centred)
  lx0 = log(xmin / 1.6); lx1 = log(xmax * 1.6)
  if (lx1 - lx0 < log(8)) { m = (lx0 + lx1) / 2; lx0 = m - log(8) / 2; lx1 = m + log(8) / 2 }
  ly0 = log(10) * int(log(ymin) / log(10) - (ymin < 1 ? 1 : 0)); ly1 = log(10) * (int(log(ymax) / log(10)) + 1)
  printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n", W, H, W, H
  printf "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", W, H
  printf "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#444\"/>\n", L, T, R - L, B - T
  # y: decades, with 2 and 5 between
  for (d = int(ly0 / log(10) + 0.5); d <= int(ly1 / log(10) + 0.5); d++)
    for (m = 1; m <= 5; m += (m == 1 ? 1 : 3)) {
      v = m * 10 ^ d; if (log(v) < ly0 - 1e-9 || log(v) > ly1 + 1e-9) continue
      y = ly(v)
      printf "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"%s\"/>\n", L, y, R, y, m == 1 ? "#ccc" : "#eee"
      printf "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", L - 6, y + 4, fmt(v)
    }
  # x: 1, 2, 5 steps of each decade in range
  for (d = int(lx0 / log(10)); d <= int(lx1 / log(10)) + 1; d++)
    for (m = 1; m <= 5; m += (m == 1 ? 1 : 3)) {
      v = m * 10 ^ d; if (log(v) < lx0 || log(v) > lx1) continue
      x = lx(v)
      printf "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#eee\"/>\n", x, T, x, B
      printf "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", x, B + 16, fmt(v)
    }
  printf "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">corpus size (chunks, log scale)</text>\n", (L + R) / 2, B + 36
  printf "<text x=\"16\" y=\"%d\" text-anchor=\"middle\" transform=\"rotate(-90 16 %d)\">seconds (log scale)</text>\n", (T + B) / 2, (T + B) / 2
  # slope-1 guide through the first size of the "total" stage (or the first stage)
  g = ("total" in idx) ? idx["total"] : 1
  if (ns && np[g]) {
    x0 = exp(lx0); x1 = exp(lx1); k = Y[g, 1] / X[g, 1]
    printf "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#999\" stroke-dasharray=\"4 4\" clip-path=\"url(#frame)\"/>\n", lx(x0), ly(k * x0), lx(x1), ly(k * x1)
  }
  printf "<clipPath id=\"frame\"><rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/></clipPath>\n", L, T, R - L, B - T
  for (s = 1; s <= ns; s++) {
    c = col[(s - 1) % 8 + 1]; pts = ""
    for (k = 1; k <= np[s]; k++) pts = pts sprintf("%.1f,%.1f ", lx(X[s, k]), ly(Y[s, k]))
    if (np[s] > 1) printf "<polyline points=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"/>\n", pts, c
    for (k = 1; k <= np[s]; k++)
      printf "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\"><title>%s: %s chunks, %.1f s</title></circle>\n", lx(X[s, k]), ly(Y[s, k]), c, name[s], X[s, k], Y[s, k]
    ly_leg = T + 8 + 20 * (s - 1)
    printf "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"/><circle cx=\"%d\" cy=\"%d\" r=\"4\" fill=\"%s\"/>\n", R + 16, ly_leg, R + 40, ly_leg, c, R + 28, ly_leg, c
    printf "<text x=\"%d\" y=\"%d\">%s</text>\n", R + 48, ly_leg + 4, name[s]
  }
  if (ns) {
    ly_leg = T + 8 + 20 * ns
    printf "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#999\" stroke-dasharray=\"4 4\"/><text x=\"%d\" y=\"%d\">linear</text>\n", R + 16, ly_leg, R + 40, ly_leg, R + 48, ly_leg + 4
  }
  print "</svg>"
}
