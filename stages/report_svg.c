/*
 * report_svg.c — the recall-versus-QPS plot of one index type as inline SVG for report.html:
 * log-scale QPS against recall, one series per build setting, its Pareto frontier, labels
 * placed so they do not overlap.
 */
#include "report_private.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- SVG recall-versus-QPS plot ---------------------------------------------------------- */

#define PW 880.0   /* svg width; the height grows with the legend */
#define PL 64.0    /* plot area left */
#define PR 800.0   /* plot area right: labels of the rightmost points need room */
#define PT 20.0
#define PB 340.0   /* plot area bottom */
#define LEGEND_Y (PB + 62)
#define LEGEND_LINE 16.0
#define LEGEND_FRONTIER_W 120.0

static const char *const palette[] = { "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b",
				       "#e377c2", "#17becf", "#7f7f7f" };

struct pt {
	size_t row;
	double qps, recall;
	int series;          /* index of its build among this index type's builds */
	int on_front;
};

/* ---- label placement ------------------------------------------------------------------------
 * Sweeps put many points close together; each label takes the candidate position (right,
 * left, above, below the point) that overlaps least with the markers and the labels already
 * placed, frontier points first, so the settings that matter stay readable. */

struct box {
	double x0, y0, x1, y1;
};

static const struct {
	int anchor;  /* -1 end, 0 middle, 1 start */
	double dx, dy;
} label_pos[] = { { 1, 7, -5 }, { 1, 7, 14 }, { -1, -7, -5 }, { -1, -7, 14 },
		  { 0, 0, -9 }, { 0, 0, 19 } };

static double overlap(struct box a, struct box b)
{
	double w = fmin(a.x1, b.x1) - fmax(a.x0, b.x0);
	double h = fmin(a.y1, b.y1) - fmax(a.y0, b.y0);
	return w > 0 && h > 0 ? w * h : 0.0;
}

static struct box label_box(double x, double y, int pos, double w)
{
	double lx = x + label_pos[pos].dx, by = y + label_pos[pos].dy;
	double x0 = label_pos[pos].anchor > 0 ? lx : label_pos[pos].anchor < 0 ? lx - w : lx - w / 2;
	return (struct box){ x0, by - 10, x0 + w, by + 3 };
}

/* Chooses a position for a label of width w at (x, y); adds its box to placed[*np]. */
static int label_place(double x, double y, double w, struct box *placed, size_t *np,
		       struct box area)
{
	int best = 0;
	double best_cost = INFINITY;
	for (int p = 0; p < (int)RL_ARRAY_LEN(label_pos); p++) {
		struct box b = label_box(x, y, p, w);
		/* leaving the drawing costs more than any overlap */
		double cost = (b.x0 < area.x0 || b.x1 > area.x1 || b.y0 < area.y0 || b.y1 > area.y1) ?
				      1e9 : 0.0;
		for (size_t i = 0; i < *np; i++)
			cost += overlap(b, placed[i]);
		if (cost < best_cost) {
			best_cost = cost;
			best = p;
		}
	}
	placed[(*np)++] = label_box(x, y, best, w);
	return best;
}

static int pt_cmp_qps_desc(const void *x, const void *y)
{
	const struct pt *a = x, *b = y;
	if (a->qps != b->qps)
		return a->qps > b->qps ? -1 : 1;
	return (a->recall < b->recall) - (a->recall > b->recall);
}

static int pt_cmp_qps_asc(const void *x, const void *y)
{
	return -pt_cmp_qps_desc(x, y);
}

static const char *qps_label(char *s, size_t n, double v)
{
	if (v >= 1e6)
		snprintf(s, n, "%gM", v / 1e6);
	else if (v >= 1e3)
		snprintf(s, n, "%gk", v / 1e3);
	else
		snprintf(s, n, "%g", v);
	return s;
}

/* Width of a legend entry for build text s (empty = "default build"); 6.2 px per character
 * is a generous average for an 11 px sans-serif. */
static double legend_width(const char *s)
{
	return 22 + 6.2 * (double)(s[0] ? strlen(s) : strlen("default build"));
}

void svg_plot(struct ctx *c, struct out *o, const char *index)
{
	const struct report *r = c->r;
	struct pt *pts = calloc(r->n_ann + 1, sizeof(*pts));
	struct pt *front = calloc(r->n_ann + 1, sizeof(*front));
	size_t *builds = calloc(r->n_ann + 1, sizeof(*builds));  /* first row of each build */
	struct box *placed = calloc(2 * r->n_ann + 1, sizeof(*placed));
	int *where = calloc(r->n_ann + 1, sizeof(*where));
	size_t n = 0, nf = 0, nb = 0, skipped = 0, nseq = 0;
	char s1[256], s2[256];

	if (!pts || !front || !builds || !placed || !where) {
		o->err = RL_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < r->n_ann; i++) {
		const struct report_ann *a = &r->ann[i];
		if (strcmp(a->index, index) != 0)
			continue;
		double q = plot_qps(a);
		if (!isfinite(q) || q <= 0 || !isfinite(a->recall10)) {
			skipped++;
			continue;
		}
		size_t b;
		for (b = 0; b < nb; b++)
			if (json_equal(c->a_build[builds[b]], c->a_build[i]))
				break;
		if (b == nb)
			builds[nb++] = i;
		pts[n++] = (struct pt){ .row = i, .qps = q, .recall = a->recall10, .series = (int)b };
		nseq += a->seqscan != 0;
	}
	if (n == 0) {
		o_puts(o, "<p>No ");
		o_html(o, index);
		o_puts(o, " setting has both a recall and a QPS measurement to plot.</p>\n");
		goto out;
	}

	/* Pareto frontier: walking from the fastest, keep each point that beats every faster one's
	 * recall. Seq-scan fallbacks are not the index's performance and stay off it. */
	memcpy(front, pts, n * sizeof(*pts));
	qsort(front, n, sizeof(*front), pt_cmp_qps_desc);
	double best = -1.0;
	for (size_t i = 0; i < n; i++) {
		if (r->ann[front[i].row].seqscan || front[i].recall <= best)
			continue;
		best = front[i].recall;
		front[nf++] = front[i];
		for (size_t j = 0; j < n; j++)
			if (pts[j].row == front[i].row)
				pts[j].on_front = 1;
	}
	qsort(front, nf, sizeof(*front), pt_cmp_qps_asc);

	/* axes: x log10 over whole decades, y linear from a round value below the worst recall */
	double qmin = pts[0].qps, qmax = pts[0].qps, rmin = pts[0].recall;
	for (size_t i = 1; i < n; i++) {
		qmin = fmin(qmin, pts[i].qps);
		qmax = fmax(qmax, pts[i].qps);
		rmin = fmin(rmin, pts[i].recall);
	}
	double x0 = floor(log10(qmin)), x1 = ceil(log10(qmax));
	if (x1 <= x0)
		x1 = x0 + 1;
	double y1 = 1.0, y0 = floor(fmin(rmin, 0.999) * 10.0) / 10.0;
	if (y0 < 0)
		y0 = 0;
	double yr = y1 - y0;
	double ystep = yr <= 0.1 + 1e-9 ? 0.02 : yr <= 0.3 + 1e-9 ? 0.05 : 0.1;
#define X(q) (PL + (log10(q) - x0) / (x1 - x0) * (PR - PL))
#define Y(v) (PB - ((v) - y0) / yr * (PB - PT))

	/* the legend's layout first: the svg's height depends on how many lines it wraps to */
	double lx = PL, ly = LEGEND_Y;
	for (size_t b = 0; b < nb; b++) {
		setting_text(c->a_build[builds[b]], s2, sizeof(s2));
		double w = legend_width(s2);
		if (lx + w > PW - 10) {
			lx = PL;
			ly += LEGEND_LINE;
		}
		lx += w + 12;
	}
	if (lx + LEGEND_FRONTIER_W + (nseq ? 200 : 0) > PW - 10)
		ly += LEGEND_LINE;
	double ph = ly + 12;

	o_printf(o, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" "
		    "height=\"%.0f\" role=\"img\" aria-label=\"",
		 PW, ph, PW, ph);
	o_html(o, index);
	o_printf(o, ": recall@%d versus queries per second\" font-family=\"system-ui,sans-serif\" "
		    "font-size=\"11\">\n", r->k > 0 ? r->k : 10);
	o_printf(o, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#fcfcfd\" "
		    "stroke=\"#c9ced6\"/>\n", PL, PT, PR - PL, PB - PT);

	/* y grid and ticks */
	for (int i = 0;; i++) {
		double v = y0 + i * ystep;
		if (v > y1 + 1e-9)
			break;
		double y = Y(v);
		o_printf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e6e9ee\"/>"
			    "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#555\"/>"
			    "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" fill=\"#333\">%.2f</text>\n",
			 PL, y, PR, y, PL - 5, y, PL, y, PL - 8, y + 4, v);
	}
	/* x grid and ticks: decades, plus 2x and 5x when the range spans two decades or fewer */
	int minor = x1 - x0 <= 2;
	for (int e = (int)x0; e <= (int)x1; e++) {
		static const double mult[] = { 1, 2, 5 };
		for (size_t m = 0; m < (minor ? 3u : 1u); m++) {
			double q = mult[m] * pow(10.0, e);
			if (log10(q) > x1 + 1e-9)
				break;
			double x = X(q);
			o_printf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>"
				    "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#555\"/>"
				    "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#333\">%s</text>\n",
				 x, PT, x, PB, m ? "#f0f2f5" : "#e6e9ee", x, PB, x, PB + 5, x, PB + 18,
				 qps_label(s1, sizeof(s1), q));
		}
	}
	o_printf(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"12\" fill=\"#222\">"
		    "queries per second, 1 connection (log scale)</text>\n",
		 (PL + PR) / 2, PB + 36);
	o_printf(o, "<text transform=\"translate(16 %.1f) rotate(-90)\" text-anchor=\"middle\" "
		    "font-size=\"12\" fill=\"#222\">recall@%d</text>\n",
		 (PT + PB) / 2, r->k > 0 ? r->k : 10);

	/* frontier first, so points are drawn over it */
	if (nf > 1) {
		o_puts(o, "<polyline fill=\"none\" stroke=\"#222\" stroke-width=\"1.5\" "
			  "stroke-linejoin=\"round\" points=\"");
		for (size_t i = 0; i < nf; i++)
			o_printf(o, "%s%.1f,%.1f", i ? " " : "", X(front[i].qps), Y(front[i].recall));
		o_puts(o, "\"/>\n");
	}

	/* markers occupy their spot before any label is placed */
	size_t np = 0;
	for (size_t i = 0; i < n; i++) {
		double x = X(pts[i].qps), y = Y(pts[i].recall);
		placed[np++] = (struct box){ x - 5, y - 5, x + 5, y + 5 };
	}
	struct box area = { PL + 2, 2, PW - 2, PB - 2 };  /* keep off the tick labels */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < n; i++)
			if (pts[i].on_front == !pass) {
				setting_text(c->a_search[pts[i].row], s1, sizeof(s1));
				double w = 6.2 * (double)(strlen(s1[0] ? s1 : "default") +
							  (r->ann[pts[i].row].seqscan ? 11 : 0));
				where[i] = label_place(X(pts[i].qps), Y(pts[i].recall), w, placed,
						       &np, area);
			}

	for (size_t i = 0; i < n; i++) {
		const struct report_ann *a = &r->ann[pts[i].row];
		double x = X(pts[i].qps), y = Y(pts[i].recall);
		const char *color = palette[pts[i].series % (int)RL_ARRAY_LEN(palette)];
		setting_text(c->a_search[pts[i].row], s1, sizeof(s1));
		setting_text(c->a_build[pts[i].row], s2, sizeof(s2));
		/* <title> is the hover tooltip: no JavaScript needed */
		o_puts(o, "<g><title>");
		o_html(o, index);
		o_puts(o, " ");
		o_html(o, s2);
		o_puts(o, "; ");
		o_html(o, s1);
		o_printf(o, ": recall %.3f at %.0f QPS%s</title>", pts[i].recall, pts[i].qps,
			 a->seqscan ? " (sequential scan fallback, not ANN)" : "");
		if (a->seqscan)
			o_printf(o, "<path d=\"M%.1f %.1fl8 8m0 -8l-8 8\" stroke=\"#c2410c\" "
				    "stroke-width=\"2\"/>", x - 4, y - 4);
		else
			o_printf(o, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\" fill=\"%s\" "
				    "stroke=\"#fff\" stroke-width=\"1\"/>", x, y, color);
		int p = where[i];
		o_printf(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" fill=\"%s\">",
			 x + label_pos[p].dx, y + label_pos[p].dy,
			 label_pos[p].anchor > 0 ? "start" : label_pos[p].anchor < 0 ? "end" : "middle",
			 a->seqscan ? "#c2410c" : "#333");
		o_html(o, s1[0] ? s1 : "default");
		if (a->seqscan)
			o_puts(o, " (seq scan)");
		o_puts(o, "</text></g>\n");
	}

	/* legend: one swatch per build, the frontier, the seq-scan mark (same layout as above) */
	lx = PL;
	ly = LEGEND_Y;
	for (size_t b = 0; b < nb; b++) {
		setting_text(c->a_build[builds[b]], s2, sizeof(s2));
		double w = legend_width(s2);
		if (!s2[0])
			snprintf(s2, sizeof(s2), "default build");
		if (lx + w > PW - 10) {
			lx = PL;
			ly += LEGEND_LINE;
		}
		o_printf(o, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\" fill=\"%s\"/>"
			    "<text x=\"%.1f\" y=\"%.1f\" fill=\"#333\">",
			 lx + 5, ly - 4, palette[b % RL_ARRAY_LEN(palette)], lx + 14, ly);
		o_html(o, s2);
		o_puts(o, "</text>\n");
		lx += w + 12;
	}
	if (lx + LEGEND_FRONTIER_W + (nseq ? 200 : 0) > PW - 10) {
		lx = PL;
		ly += LEGEND_LINE;
	}
	o_printf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#222\" "
		    "stroke-width=\"1.5\"/><text x=\"%.1f\" y=\"%.1f\" fill=\"#333\">Pareto frontier"
		    "</text>\n", lx, ly - 4, lx + 18, ly - 4, lx + 24, ly);
	lx += LEGEND_FRONTIER_W;
	if (nseq) {
		o_printf(o, "<path d=\"M%.1f %.1fl8 8m0 -8l-8 8\" stroke=\"#c2410c\" stroke-width=\"2\"/>"
			    "<text x=\"%.1f\" y=\"%.1f\" fill=\"#c2410c\">seq-scan fallback (not ANN)"
			    "</text>\n", lx, ly - 8, lx + 14, ly);
	}
	o_puts(o, "</svg>\n");
#undef X
#undef Y
	if (skipped) {
		o_printf(o, "<p class=\"meta\">%zu ", skipped);
		o_html(o, index);
		o_puts(o, " setting(s) without a QPS or recall measurement are not plotted.</p>\n");
	}
out:
	free(pts);
	free(front);
	free(builds);
	free(placed);
	free(where);
}
