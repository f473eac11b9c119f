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

/* One plot: its points (the index type's rows with a QPS and a recall), the Pareto frontier,
 * the build settings (one series each), and the axes' ranges. */
struct plot {
	struct ctx *c;
	const char *index;
	struct pt *pts, *front;
	size_t *builds;               /* first row of each build */
	struct box *placed;
	int *where;                   /* label position of each point */
	size_t n, nf, nb, skipped, nseq;
	double x0, x1, y0, y1, yr, ystep;
};

static double px(const struct plot *p, double q)
{
	return PL + (log10(q) - p->x0) / (p->x1 - p->x0) * (PR - PL);
}

static double py(const struct plot *p, double v)
{
	return PB - (v - p->y0) / p->yr * (PB - PT);
}

/* The rows of this index type that can be drawn, each in the series of its build. */
static void plot_points(struct plot *p)
{
	const struct report *r = p->c->r;
	for (size_t i = 0; i < r->n_ann; i++) {
		const struct report_ann *a = &r->ann[i];
		if (strcmp(a->index, p->index) != 0)
			continue;
		double q = plot_qps(a);
		if (!isfinite(q) || q <= 0 || !isfinite(a->recall10)) {
			p->skipped++;
			continue;
		}
		size_t b;
		for (b = 0; b < p->nb; b++)
			if (json_equal(p->c->a_build[p->builds[b]], p->c->a_build[i]))
				break;
		if (b == p->nb)
			p->builds[p->nb++] = i;
		p->pts[p->n++] = (struct pt){ .row = i, .qps = q, .recall = a->recall10,
					      .series = (int)b };
		p->nseq += a->seqscan != 0;
	}
}

/* Pareto frontier: walking from the fastest, keep each point that beats every faster one's
 * recall. Seq-scan fallbacks are not the index's performance and stay off it. */
static void plot_frontier(struct plot *p)
{
	const struct report *r = p->c->r;
	memcpy(p->front, p->pts, p->n * sizeof(*p->pts));
	qsort(p->front, p->n, sizeof(*p->front), pt_cmp_qps_desc);
	double best = -1.0;
	for (size_t i = 0; i < p->n; i++) {
		if (r->ann[p->front[i].row].seqscan || p->front[i].recall <= best)
			continue;
		best = p->front[i].recall;
		p->front[p->nf++] = p->front[i];
		for (size_t j = 0; j < p->n; j++)
			if (p->pts[j].row == p->front[i].row)
				p->pts[j].on_front = 1;
	}
	qsort(p->front, p->nf, sizeof(*p->front), pt_cmp_qps_asc);
}

/* Axes: x log10 over whole decades, y linear from a round value below the worst recall. */
static void plot_ranges(struct plot *p)
{
	double qmin = p->pts[0].qps, qmax = p->pts[0].qps, rmin = p->pts[0].recall;
	for (size_t i = 1; i < p->n; i++) {
		qmin = fmin(qmin, p->pts[i].qps);
		qmax = fmax(qmax, p->pts[i].qps);
		rmin = fmin(rmin, p->pts[i].recall);
	}
	p->x0 = floor(log10(qmin));
	p->x1 = ceil(log10(qmax));
	if (p->x1 <= p->x0)
		p->x1 = p->x0 + 1;
	p->y1 = 1.0;
	p->y0 = floor(fmin(rmin, 0.999) * 10.0) / 10.0;
	if (p->y0 < 0)
		p->y0 = 0;
	p->yr = p->y1 - p->y0;
	p->ystep = p->yr <= 0.1 + 1e-9 ? 0.02 : p->yr <= 0.3 + 1e-9 ? 0.05 : 0.1;
}

/* The legend: one swatch per build, the frontier, the seq-scan mark, wrapped to the width.
 * With o NULL it is only laid out; returns the y of its last line (the svg's height depends
 * on how many lines it wraps to). */
static double plot_legend(const struct plot *p, struct out *o)
{
	char s2[256];
	double lx = PL, ly = LEGEND_Y;
	for (size_t b = 0; b < p->nb; b++) {
		setting_text(p->c->a_build[p->builds[b]], s2, sizeof(s2));
		double w = legend_width(s2);
		if (!s2[0])
			snprintf(s2, sizeof(s2), "default build");
		if (lx + w > PW - 10) {
			lx = PL;
			ly += LEGEND_LINE;
		}
		if (o) {
			o_printf(o, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\" fill=\"%s\"/>"
				    "<text x=\"%.1f\" y=\"%.1f\" fill=\"#333\">",
				 lx + 5, ly - 4, palette[b % RL_ARRAY_LEN(palette)], lx + 14, ly);
			o_html(o, s2);
			o_puts(o, "</text>\n");
		}
		lx += w + 12;
	}
	if (lx + LEGEND_FRONTIER_W + (p->nseq ? 200 : 0) > PW - 10) {
		lx = PL;
		ly += LEGEND_LINE;
	}
	if (!o)
		return ly;
	o_printf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#222\" "
		    "stroke-width=\"1.5\"/><text x=\"%.1f\" y=\"%.1f\" fill=\"#333\">Pareto frontier"
		    "</text>\n", lx, ly - 4, lx + 18, ly - 4, lx + 24, ly);
	lx += LEGEND_FRONTIER_W;
	if (p->nseq) {
		o_printf(o, "<path d=\"M%.1f %.1fl8 8m0 -8l-8 8\" stroke=\"#c2410c\" stroke-width=\"2\"/>"
			    "<text x=\"%.1f\" y=\"%.1f\" fill=\"#c2410c\">seq-scan fallback (not ANN)"
			    "</text>\n", lx, ly - 8, lx + 14, ly);
	}
	return ly;
}

/* The frame, the grid with its ticks, the axis titles. */
static void plot_axes(const struct plot *p, struct out *o)
{
	char s1[256];
	const struct report *r = p->c->r;
	o_printf(o, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#fcfcfd\" "
		    "stroke=\"#c9ced6\"/>\n", PL, PT, PR - PL, PB - PT);
	/* y grid and ticks */
	for (int i = 0;; i++) {
		double v = p->y0 + i * p->ystep;
		if (v > p->y1 + 1e-9)
			break;
		double y = py(p, v);
		o_printf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e6e9ee\"/>"
			    "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#555\"/>"
			    "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" fill=\"#333\">%.2f</text>\n",
			 PL, y, PR, y, PL - 5, y, PL, y, PL - 8, y + 4, v);
	}
	/* x grid and ticks: decades, plus 2x and 5x when the range spans two decades or fewer */
	int minor = p->x1 - p->x0 <= 2;
	for (int e = (int)p->x0; e <= (int)p->x1; e++) {
		static const double mult[] = { 1, 2, 5 };
		for (size_t m = 0; m < (minor ? 3u : 1u); m++) {
			double q = mult[m] * pow(10.0, e);
			if (log10(q) > p->x1 + 1e-9)
				break;
			double x = px(p, q);
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
}

/* Labels placed where they overlap nothing: markers occupy their spot first, then the
 * frontier's labels, then the others. */
static void plot_place_labels(struct plot *p)
{
	char s1[256];
	const struct report *r = p->c->r;
	size_t np = 0;
	for (size_t i = 0; i < p->n; i++) {
		double x = px(p, p->pts[i].qps), y = py(p, p->pts[i].recall);
		p->placed[np++] = (struct box){ x - 5, y - 5, x + 5, y + 5 };
	}
	struct box area = { PL + 2, 2, PW - 2, PB - 2 };  /* keep off the tick labels */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < p->n; i++)
			if (p->pts[i].on_front == !pass) {
				setting_text(p->c->a_search[p->pts[i].row], s1, sizeof(s1));
				double w = 6.2 * (double)(strlen(s1[0] ? s1 : "default") +
							  (r->ann[p->pts[i].row].seqscan ? 11 : 0));
				p->where[i] = label_place(px(p, p->pts[i].qps), py(p, p->pts[i].recall),
							  w, p->placed, &np, area);
			}
}

/* Each point: its marker, its label, and a <title> tooltip (no JavaScript needed). */
static void plot_marks(const struct plot *p, struct out *o)
{
	char s1[256], s2[256];
	const struct report *r = p->c->r;
	for (size_t i = 0; i < p->n; i++) {
		const struct report_ann *a = &r->ann[p->pts[i].row];
		double x = px(p, p->pts[i].qps), y = py(p, p->pts[i].recall);
		const char *color = palette[p->pts[i].series % (int)RL_ARRAY_LEN(palette)];
		setting_text(p->c->a_search[p->pts[i].row], s1, sizeof(s1));
		setting_text(p->c->a_build[p->pts[i].row], s2, sizeof(s2));
		o_puts(o, "<g><title>");
		o_html(o, p->index);
		o_puts(o, " ");
		o_html(o, s2);
		o_puts(o, "; ");
		o_html(o, s1);
		o_printf(o, ": recall %.3f at %.0f QPS%s</title>", p->pts[i].recall, p->pts[i].qps,
			 a->seqscan ? " (sequential scan fallback, not ANN)" : "");
		if (a->seqscan)
			o_printf(o, "<path d=\"M%.1f %.1fl8 8m0 -8l-8 8\" stroke=\"#c2410c\" "
				    "stroke-width=\"2\"/>", x - 4, y - 4);
		else
			o_printf(o, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\" fill=\"%s\" "
				    "stroke=\"#fff\" stroke-width=\"1\"/>", x, y, color);
		int w = p->where[i];
		o_printf(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" fill=\"%s\">",
			 x + label_pos[w].dx, y + label_pos[w].dy,
			 label_pos[w].anchor > 0 ? "start" : label_pos[w].anchor < 0 ? "end" : "middle",
			 a->seqscan ? "#c2410c" : "#333");
		o_html(o, s1[0] ? s1 : "default");
		if (a->seqscan)
			o_puts(o, " (seq scan)");
		o_puts(o, "</text></g>\n");
	}
}

void svg_plot(struct ctx *c, struct out *o, const char *index)
{
	const struct report *r = c->r;
	struct plot p = { .c = c, .index = index };
	p.pts = calloc(r->n_ann + 1, sizeof(*p.pts));
	p.front = calloc(r->n_ann + 1, sizeof(*p.front));
	p.builds = calloc(r->n_ann + 1, sizeof(*p.builds));
	p.placed = calloc(2 * r->n_ann + 1, sizeof(*p.placed));
	p.where = calloc(r->n_ann + 1, sizeof(*p.where));
	if (!p.pts || !p.front || !p.builds || !p.placed || !p.where) {
		o->err = RL_ENOMEM;
		goto out;
	}
	plot_points(&p);
	if (p.n == 0) {
		o_puts(o, "<p>No ");
		o_html(o, index);
		o_puts(o, " setting has both a recall and a QPS measurement to plot.</p>\n");
		goto out;
	}
	plot_frontier(&p);
	plot_ranges(&p);
	double ph = plot_legend(&p, NULL) + 12;

	o_printf(o, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" "
		    "height=\"%.0f\" role=\"img\" aria-label=\"",
		 PW, ph, PW, ph);
	o_html(o, index);
	o_printf(o, ": recall@%d versus queries per second\" font-family=\"system-ui,sans-serif\" "
		    "font-size=\"11\">\n", r->k > 0 ? r->k : 10);
	plot_axes(&p, o);
	/* frontier first, so points are drawn over it */
	if (p.nf > 1) {
		o_puts(o, "<polyline fill=\"none\" stroke=\"#222\" stroke-width=\"1.5\" "
			  "stroke-linejoin=\"round\" points=\"");
		for (size_t i = 0; i < p.nf; i++)
			o_printf(o, "%s%.1f,%.1f", i ? " " : "", px(&p, p.front[i].qps),
				 py(&p, p.front[i].recall));
		o_puts(o, "\"/>\n");
	}
	plot_place_labels(&p);
	plot_marks(&p, o);
	plot_legend(&p, o);
	o_puts(o, "</svg>\n");
	if (p.skipped) {
		o_printf(o, "<p class=\"meta\">%zu ", p.skipped);
		o_html(o, index);
		o_puts(o, " setting(s) without a QPS or recall measurement are not plotted.</p>\n");
	}
out:
	free(p.pts);
	free(p.front);
	free(p.builds);
	free(p.placed);
	free(p.where);
}
