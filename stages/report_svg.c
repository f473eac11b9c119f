/*
 * report_svg.c — the plots report.html embeds, as inline SVG:
 *
 *   svg_plot()  recall@k versus QPS in ann-benchmarks' orientation (recall on x, QPS on a log
 *               y axis; up and to the right is better): every ANN row on shared axes, one line
 *               per (index, storage, build setting) through its search settings, the Pareto
 *               frontier over all of them;
 *   svg_cost()  the best recall@k of each (index, storage, build) against its build time or
 *               its size, one colour per storage, --repeat's build-time spread as a bar.
 *
 * Labels are placed where they overlap least and never outside the plot frame; the legend
 * names only what is drawn.
 */
#include "report_private.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PW 900.0   /* svg width; the height grows with the legend */
#define PL 64.0    /* plot frame */
#define PR 880.0
#define PT 14.0
#define PB 380.0
#define LEGEND_Y (PB + 62)
#define LEGEND_LINE 16.0
#define CHAR_W 6.2 /* a generous average advance of an 11 px sans-serif */

static const char *const palette[] = { "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b",
				       "#e377c2", "#17becf", "#7f7f7f", "#bcbd22", "#d62728" };

/* ---- label placement ------------------------------------------------------------------------
 * Sweeps put many points close together; each label takes the candidate position (right,
 * left, above, below the point) that overlaps least with the markers and the labels already
 * placed, frontier points first; a position outside the frame is never taken while another
 * one fits, and the label is dropped (its point keeps its tooltip) when none does. */

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

/* A position for a label of width w at (x, y), its box added to placed; -1 when every
 * position leaves the frame or hides more than half of the label. */
static int label_place(double x, double y, double w, struct box *placed, size_t *np)
{
	int best = -1;
	double best_cost = INFINITY;
	for (int p = 0; p < (int)RL_ARRAY_LEN(label_pos); p++) {
		struct box b = label_box(x, y, p, w);
		if (b.x0 < PL + 2 || b.x1 > PR - 2 || b.y0 < PT + 2 || b.y1 > PB - 2)
			continue;
		double cost = 0;
		for (size_t i = 0; i < *np; i++)
			cost += overlap(b, placed[i]);
		if (cost < best_cost) {
			best_cost = cost;
			best = p;
		}
	}
	if (best < 0 || best_cost > 0.5 * w * 13)
		return -1;
	placed[(*np)++] = label_box(x, y, best, w);
	return best;
}

/* ---- axes ---------------------------------------------------------------------------------- */

struct axis {
	int log;                /* log10 scale over whole decades */
	double lo, hi;          /* value range (log: exponents) */
	double step;            /* linear tick step */
	const char *title;
	const char *unit;       /* tick suffix */
};

/* A linear axis from a round value below vmin to vmax (recall: to 1). */
static void axis_linear(struct axis *a, double vmin, double vmax, int recall)
{
	a->log = 0;
	if (recall) {
		a->hi = 1.0;
		a->lo = floor(fmin(vmin, 0.999) * 10.0) / 10.0;
		if (a->lo < 0)
			a->lo = 0;
	} else {
		a->lo = 0;
		a->hi = vmax > 0 ? vmax * 1.08 : 1;
	}
	double r = a->hi - a->lo;
	if (recall)
		a->step = r <= 0.1 + 1e-9 ? 0.02 : r <= 0.3 + 1e-9 ? 0.05 : 0.1;
	else {
		double m = pow(10.0, floor(log10(r / 5)));
		a->step = r / m <= 10 ? m : r / m <= 25 ? 2.5 * m : r / m <= 50 ? 5 * m : 10 * m;
	}
}

static void axis_log(struct axis *a, double vmin, double vmax)
{
	a->log = 1;
	a->lo = floor(log10(vmin));
	a->hi = ceil(log10(vmax));
	if (a->hi <= a->lo)
		a->hi = a->lo + 1;
}

/* 0..1 along the axis */
static double axis_at(const struct axis *a, double v)
{
	return a->log ? (log10(v) - a->lo) / (a->hi - a->lo) : (v - a->lo) / (a->hi - a->lo);
}

static double sx(const struct axis *a, double v)
{
	return PL + axis_at(a, v) * (PR - PL);
}

static double sy(const struct axis *a, double v)
{
	return PB - axis_at(a, v) * (PB - PT);
}

static const char *tick_text(char *s, size_t n, double v, const struct axis *a)
{
	if (a->log) {
		if (v >= 1e6)
			snprintf(s, n, "%g M", v / 1e6);
		else if (v >= 1e3)
			snprintf(s, n, "%g k", v / 1e3);
		else
			snprintf(s, n, "%g", v);
	} else {
		snprintf(s, n, a->step < 0.1 ? "%.2f" : a->step < 1 ? "%.1f" : "%g", v);
	}
	snprintf(s + strlen(s), n - strlen(s), "%s", a->unit ? a->unit : "");
	return s;
}

/* The tick values of an axis into v[max]; returns how many. */
static int axis_ticks(const struct axis *a, double *v, int max)
{
	int n = 0;
	if (a->log) {
		int minor = a->hi - a->lo <= 2;
		for (int e = (int)a->lo; e <= (int)a->hi; e++) {
			static const double mult[] = { 1, 2, 5 };
			for (size_t m = 0; m < (minor ? 3u : 1u) && n < max; m++) {
				double q = mult[m] * pow(10.0, e);
				if (log10(q) <= a->hi + 1e-9)
					v[n++] = q;
			}
		}
	} else {
		for (int i = 0; n < max; i++) {
			double t = a->lo + i * a->step;
			if (t > a->hi + 1e-9)
				break;
			v[n++] = t;
		}
	}
	return n;
}

/* The frame, the grid with its ticks, the axis titles. */
static void draw_axes(struct out *o, const struct axis *x, const struct axis *y)
{
	char s[64];
	double t[64];
	o_printf(o, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#fcfcfd\" "
		    "stroke=\"#c9ced6\"/>\n", PL, PT, PR - PL, PB - PT);
	int n = axis_ticks(y, t, (int)RL_ARRAY_LEN(t));
	for (int i = 0; i < n; i++) {
		double py = sy(y, t[i]);
		o_printf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e6e9ee\"/>"
			    "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" fill=\"#333\">%s</text>\n",
			 PL, py, PR, py, PL - 6, py + 4, tick_text(s, sizeof(s), t[i], y));
	}
	n = axis_ticks(x, t, (int)RL_ARRAY_LEN(t));
	for (int i = 0; i < n; i++) {
		double px = sx(x, t[i]);
		o_printf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e6e9ee\"/>"
			    "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#333\">%s</text>\n",
			 px, PT, px, PB, px, PB + 16, tick_text(s, sizeof(s), t[i], x));
	}
	o_printf(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"12\" "
		    "fill=\"#222\">", (PL + PR) / 2, PB + 36);
	o_html(o, x->title);
	o_printf(o, "</text>\n<text transform=\"translate(16 %.1f) rotate(-90)\" "
		    "text-anchor=\"middle\" font-size=\"12\" fill=\"#222\">", (PT + PB) / 2);
	o_html(o, y->title);
	o_puts(o, "</text>\n");
}

/* ---- the legend --------------------------------------------------------------------------- */

struct legend {
	double x, y;
	struct out *o;          /* NULL: only laid out */
};

enum mark { MARK_DOT_K, MARK_FRONT_K, MARK_SEQ_K, MARK_LINE_K };

#define MARK_SEQ "<path d=\"M%.1f %.1fl8 8m0 -8l-8 8\" stroke=\"%s\" stroke-width=\"2\"/>"

/* One legend entry: its mark (a dot, the dashed frontier, the seq-scan cross, a series' line
 * with a dot) and its text, wrapped to the width; with l->o NULL only laid out. */
static void legend_entry(struct legend *l, enum mark m, const char *color, const char *text)
{
	double w = 26 + CHAR_W * (double)strlen(text);
	if (l->x + w > PW - 10 && l->x > PL) {
		l->x = PL;
		l->y += LEGEND_LINE;
	}
	if (l->o) {
		double x = l->x, y = l->y - 4;
		switch (m) {
		case MARK_DOT_K:
			o_printf(l->o, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\" fill=\"%s\"/>", x + 5,
				 y, color);
			break;
		case MARK_FRONT_K:
			o_printf(l->o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
				       "stroke=\"%s\" stroke-width=\"1.5\" stroke-dasharray=\"5 3\"/>",
				 x, y, x + 18, y, color);
			break;
		case MARK_SEQ_K:
			o_printf(l->o, MARK_SEQ, x + 2, y - 4, color);
			break;
		case MARK_LINE_K:
			o_printf(l->o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
				       "stroke=\"%s\" stroke-width=\"2\"/><circle cx=\"%.1f\" "
				       "cy=\"%.1f\" r=\"3.5\" fill=\"%s\"/>", x, y, x + 18, y, color,
				 x + 9, y, color);
			break;
		}
		o_printf(l->o, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#333\">", l->x + 22, l->y);
		o_html(l->o, text);
		o_puts(l->o, "</text>\n");
	}
	l->x += w + 12;
}

/* ---- recall versus QPS ----------------------------------------------------------------------- */

struct pt {
	size_t row;
	double x, y;
	int series;
	int on_front;
	int where;              /* label position, -1 none */
};

static int pt_cmp_x(const void *a, const void *b)
{
	const struct pt *p = a, *q = b;
	if (p->x != q->x)
		return p->x < q->x ? -1 : 1;
	return (p->y > q->y) - (p->y < q->y);
}

/* The series of a row: its (index, storage, build) among first[0..*ns). */
static int series_of(struct ctx *c, size_t i, size_t *first, size_t *ns)
{
	const struct report *r = c->r;
	char a[64], b[64];
	ann_label(a, sizeof(a), &r->ann[i]);
	for (size_t s = 0; s < *ns; s++)
		if (!strcmp(ann_label(b, sizeof(b), &r->ann[first[s]]), a) &&
		    json_equal(c->a_build[first[s]], c->a_build[i]))
			return (int)s;
	first[*ns] = i;
	return (int)(*ns)++;
}

/* "hnsw halfvec m=16, ef_construction=64" */
static void series_name(struct ctx *c, size_t row, char *s, size_t n)
{
	char l[64], b[192];
	ann_label(l, sizeof(l), &c->r->ann[row]);
	setting_text(c->a_build[row], b, sizeof(b));
	snprintf(s, n, "%s %s", l, b[0] ? b : "default build");
}

void svg_plot(struct ctx *c, struct out *o)
{
	const struct report *r = c->r;
	size_t n = 0, nf = 0, ns = 0, nseq = 0, skipped = 0, np = 0;
	struct pt *pts = calloc(r->n_ann + 1, sizeof(*pts));
	struct pt *front = calloc(r->n_ann + 1, sizeof(*front));
	size_t *first = calloc(r->n_ann + 1, sizeof(*first));
	struct box *placed = calloc(2 * r->n_ann + 1, sizeof(*placed));
	char s1[256], s2[256];
	if (!pts || !front || !first || !placed) {
		o->err = RL_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < r->n_ann; i++) {
		const struct report_ann *a = &r->ann[i];
		double q = plot_qps(a);
		if (!isfinite(q) || q <= 0 || !isfinite(a->recall10)) {
			skipped++;
			continue;
		}
		pts[n++] = (struct pt){ .row = i, .x = a->recall10, .y = q,
					.series = series_of(c, i, first, &ns), .where = -1 };
		nseq += a->seqscan != 0;
	}
	if (n == 0) {
		o_puts(o, "<p>No setting has both a recall and a QPS measurement to plot.</p>\n");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if ((pts[i].on_front = ann_pareto(r, pts[i].row)))
			front[nf++] = pts[i];
	qsort(front, nf, sizeof(*front), pt_cmp_x);
	struct axis ax = { .title = NULL }, ay = { .title = NULL };
	double xmin = pts[0].x, ymin = pts[0].y, ymax = pts[0].y;
	for (size_t i = 1; i < n; i++) {
		xmin = fmin(xmin, pts[i].x);
		ymin = fmin(ymin, pts[i].y);
		ymax = fmax(ymax, pts[i].y);
	}
	axis_linear(&ax, xmin, 1, 1);
	axis_log(&ay, ymin, ymax);
	snprintf(s1, sizeof(s1), "recall@%d", r->k > 0 ? r->k : 10);
	ax.title = s1;
	ay.title = "queries per second, 1 connection (log scale)";

	/* the legend's height first: the svg's height depends on it */
	struct legend lg = { PL, LEGEND_Y, NULL };
	for (size_t s = 0; s < ns; s++) {
		series_name(c, first[s], s2, sizeof(s2));
		legend_entry(&lg, MARK_LINE_K, palette[s % RL_ARRAY_LEN(palette)], s2);
	}
	if (nf > 1)
		legend_entry(&lg, MARK_FRONT_K, "#222", "Pareto frontier");
	if (nseq)
		legend_entry(&lg, MARK_SEQ_K, "#c2410c", "seq-scan fallback (not ANN)");
	double ph = lg.y + 12;

	o_printf(o, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %.0f %.0f\" "
		    "width=\"%.0f\" height=\"%.0f\" role=\"img\" aria-label=\"recall@%d versus "
		    "queries per second, every index\" font-family=\"system-ui,sans-serif\" "
		    "font-size=\"11\">\n", PW, ph, PW, ph, r->k > 0 ? r->k : 10);
	draw_axes(o, &ax, &ay);
	/* one line per series through its settings in recall order */
	qsort(pts, n, sizeof(*pts), pt_cmp_x);
	for (size_t s = 0; s < ns; s++) {
		int started = 0;
		for (size_t i = 0; i < n; i++) {
			/* the line joins a sweep; an iterative-scan row sits beside it */
			if (pts[i].series != (int)s || r->ann[pts[i].row].seqscan ||
			    json_object_get(c->a_search[pts[i].row], "iterative_scan"))
				continue;
			if (!started)
				o_printf(o, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.6\" "
					    "stroke-opacity=\"0.8\" points=\"",
					 palette[s % RL_ARRAY_LEN(palette)]);
			o_printf(o, "%s%.1f,%.1f", started ? " " : "", sx(&ax, pts[i].x),
				 sy(&ay, pts[i].y));
			started = 1;
		}
		if (started)
			o_puts(o, "\"/>\n");
	}
	if (nf > 1) {
		o_puts(o, "<polyline fill=\"none\" stroke=\"#222\" stroke-width=\"1.5\" "
			  "stroke-dasharray=\"5 3\" points=\"");
		for (size_t i = 0; i < nf; i++)
			o_printf(o, "%s%.1f,%.1f", i ? " " : "", sx(&ax, front[i].x),
				 sy(&ay, front[i].y));
		o_puts(o, "\"/>\n");
	}
	/* markers occupy their spot, then the frontier's labels, then the others */
	for (size_t i = 0; i < n; i++) {
		double x = sx(&ax, pts[i].x), y = sy(&ay, pts[i].y);
		placed[np++] = (struct box){ x - 5, y - 5, x + 5, y + 5 };
	}
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < n; i++)
			if (pts[i].on_front == !pass) {
				setting_text(c->a_search[pts[i].row], s2, sizeof(s2));
				double w = CHAR_W * (double)strlen(s2[0] ? s2 : "default");
				pts[i].where = label_place(sx(&ax, pts[i].x), sy(&ay, pts[i].y), w,
							   placed, &np);
			}
	for (size_t i = 0; i < n; i++) {
		const struct report_ann *a = &r->ann[pts[i].row];
		double x = sx(&ax, pts[i].x), y = sy(&ay, pts[i].y);
		const char *color = palette[pts[i].series % (int)RL_ARRAY_LEN(palette)];
		series_name(c, pts[i].row, s1, sizeof(s1));
		setting_text(c->a_search[pts[i].row], s2, sizeof(s2));
		o_puts(o, "<g><title>");
		o_html(o, s1);
		o_puts(o, "; ");
		o_html(o, s2);
		o_printf(o, ": recall %.3f at %.0f QPS%s%s</title>", pts[i].x, pts[i].y,
			 pts[i].on_front ? " (Pareto-optimal)" : "",
			 a->seqscan ? " (sequential scan fallback, not ANN)" : "");
		if (a->seqscan)
			o_printf(o, MARK_SEQ, x - 4, y - 4, "#c2410c");
		else
			o_printf(o, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%s\" fill=\"%s\" "
				    "stroke=\"%s\" stroke-width=\"1\"/>", x, y,
				 pts[i].on_front ? "5" : "3.5", color, pts[i].on_front ? "#222" : "#fff");
		int w = pts[i].where;
		if (w >= 0) {
			o_printf(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" fill=\"%s\">",
				 x + label_pos[w].dx, y + label_pos[w].dy,
				 label_pos[w].anchor > 0 ? "start" :
				 label_pos[w].anchor < 0 ? "end" : "middle",
				 a->seqscan ? "#c2410c" : "#333");
			o_html(o, s2[0] ? s2 : "default");
			o_puts(o, "</text>");
		}
		o_puts(o, "</g>\n");
	}
	lg = (struct legend){ PL, LEGEND_Y, o };
	for (size_t s = 0; s < ns; s++) {
		series_name(c, first[s], s2, sizeof(s2));
		legend_entry(&lg, MARK_LINE_K, palette[s % RL_ARRAY_LEN(palette)], s2);
	}
	if (nf > 1)
		legend_entry(&lg, MARK_FRONT_K, "#222", "Pareto frontier");
	if (nseq)
		legend_entry(&lg, MARK_SEQ_K, "#c2410c", "seq-scan fallback (not ANN)");
	o_puts(o, "</svg>\n");
	if (skipped)
		o_printf(o, "<p class=\"meta\">%zu setting(s) without a QPS or recall measurement "
			    "are not plotted.</p>\n", skipped);
out:
	free(pts);
	free(front);
	free(first);
	free(placed);
}

/* ---- recall versus build time or size --------------------------------------------------------- */

static const char *const storage_names[] = { "vector", "halfvec", "bit" };

static int storage_color(const char *st)
{
	for (size_t i = 0; i < RL_ARRAY_LEN(storage_names); i++)
		if (!strcmp(st, storage_names[i]))
			return (int)i;
	return (int)RL_ARRAY_LEN(storage_names);
}

void svg_cost(struct ctx *c, struct out *o, int size)
{
	const struct report *r = c->r;
	size_t ns = 0, np = 0;
	size_t *first = calloc(r->n_ann + 1, sizeof(*first));
	double *best = calloc(r->n_ann + 1, sizeof(*best));
	struct box *placed = calloc(2 * r->n_ann + 1, sizeof(*placed));
	char s1[256], s2[256];
	if (!first || !best || !placed) {
		o->err = RL_ENOMEM;
		goto out;
	}
	/* one point per (index, storage, build): its best recall over its search settings */
	for (size_t i = 0; i < r->n_ann; i++) {
		const struct report_ann *a = &r->ann[i];
		if (a->seqscan || !isfinite(a->recall10))
			continue;
		size_t before = ns;
		int s = series_of(c, i, first, &ns);
		if ((size_t)s == before || a->recall10 > best[s])
			best[s] = a->recall10;
	}
	double xmin = INFINITY, xmax = 0, ymin = 1;
	int used[RL_ARRAY_LEN(storage_names) + 1] = { 0 };
	size_t kept = 0;
	for (size_t s = 0; s < ns; s++) {
		const struct report_ann *a = &r->ann[first[s]];
		double v = size ? (a->index_bytes >= 0 ? (double)a->index_bytes / 1048576.0 : NAN)
			       : a->build_s;
		double hi = !size && a->builds.n > 1 ? a->builds.build_max : v;
		if (!isfinite(v) || v <= 0)
			continue;
		first[kept] = first[s];
		best[kept++] = best[s];
		xmin = fmin(xmin, !size && a->builds.n > 1 ? a->builds.build_min : v);
		xmax = fmax(xmax, hi);
		ymin = fmin(ymin, best[s]);
		used[storage_color(ann_storage(a))] = 1;
	}
	ns = kept;
	if (ns == 0) {
		o_printf(o, "<p>No index has both a recall and a %s to plot.</p>\n",
			 size ? "size" : "build time");
		goto out;
	}
	struct axis ax = { 0 }, ay = { 0 };
	if (xmax / xmin > 20)
		axis_log(&ax, xmin, xmax);
	else
		axis_linear(&ax, xmin, xmax, 0);
	ax.unit = size ? " MB" : " s";
	int spread = 0;
	for (size_t s = 0; s < ns; s++)
		spread |= r->ann[first[s]].builds.n > 1;
	ax.title = size ? "index size (MB = 2^20 bytes)" :
		   spread ? "build time (s), median; bar: min-max over --repeat builds" :
			    "build time (s)";
	axis_linear(&ay, ymin, 1, 1);
	snprintf(s1, sizeof(s1), "best recall@%d of the index", r->k > 0 ? r->k : 10);
	ay.title = s1;
	struct legend lg = { PL, LEGEND_Y, NULL };
	for (size_t i = 0; i < RL_ARRAY_LEN(used); i++)
		if (used[i])
			legend_entry(&lg, MARK_DOT_K, palette[i],
				     i < RL_ARRAY_LEN(storage_names) ? storage_names[i] : "other");
	double ph = lg.y + 12;
	o_printf(o, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %.0f %.0f\" "
		    "width=\"%.0f\" height=\"%.0f\" role=\"img\" aria-label=\"best recall versus "
		    "%s\" font-family=\"system-ui,sans-serif\" font-size=\"11\">\n", PW, ph, PW, ph,
		 size ? "index size" : "build time");
	draw_axes(o, &ax, &ay);
	for (size_t s = 0; s < ns; s++) {
		double x = sx(&ax, size ? (double)r->ann[first[s]].index_bytes / 1048576.0
					: r->ann[first[s]].build_s);
		double y = sy(&ay, best[s]);
		placed[np++] = (struct box){ x - 5, y - 5, x + 5, y + 5 };
	}
	for (size_t s = 0; s < ns; s++) {
		const struct report_ann *a = &r->ann[first[s]];
		double v = size ? (double)a->index_bytes / 1048576.0 : a->build_s;
		double x = sx(&ax, v), y = sy(&ay, best[s]);
		const char *color = palette[storage_color(ann_storage(a))];
		series_name(c, first[s], s2, sizeof(s2));
		o_puts(o, "<g><title>");
		o_html(o, s2);
		o_printf(o, ": best recall %.3f, %s %.2f%s</title>", best[s],
			 size ? "size" : "build", v, size ? " MB" : " s");
		if (!size && a->builds.n > 1)
			o_printf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
				    "stroke=\"%s\" stroke-width=\"2\"/>", sx(&ax, a->builds.build_min),
				 y, sx(&ax, a->builds.build_max), y, color);
		o_printf(o, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\" fill=\"%s\"/>", x, y, color);
		char l[64];
		ann_label(l, sizeof(l), a);
		int w = label_place(x, y, CHAR_W * (double)strlen(l), placed, &np);
		if (w >= 0) {
			o_printf(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" fill=\"#333\">",
				 x + label_pos[w].dx, y + label_pos[w].dy,
				 label_pos[w].anchor > 0 ? "start" :
				 label_pos[w].anchor < 0 ? "end" : "middle");
			o_html(o, l);
			o_puts(o, "</text>");
		}
		o_puts(o, "</g>\n");
	}
	lg = (struct legend){ PL, LEGEND_Y, o };
	for (size_t i = 0; i < RL_ARRAY_LEN(used); i++)
		if (used[i])
			legend_entry(&lg, MARK_DOT_K, palette[i],
				     i < RL_ARRAY_LEN(storage_names) ? storage_names[i] : "other");
	o_puts(o, "</svg>\n");
out:
	free(first);
	free(best);
	free(placed);
}
