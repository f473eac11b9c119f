/*
 * progress.h — the one status line a long command keeps on stderr, redrawn in place.
 *
 * What: progress_update() redraws the line ("\r" + text + erase to end of line) at most
 * PROGRESS_HZ times a second, however often it is called, so a hot loop may call it freely;
 * progress_end() clears or closes the line. Why one module: the model fit (models/) and the
 * ingest pipeline both report, and there is one terminal. Nothing is drawn unless main()
 * enabled it (stderr is a terminal, or --progress; never with -q or --no-progress), and the
 * line never reaches a log file. A sink (progress_sink) is a second reader of the same
 * line, for other processes: the pipeline points it at the run's row while the model is
 * fitted, so that `ragload status` shows the fit's progress.
 * Thread-safe; the text is copied.
 */
#ifndef RAGLOAD_PROGRESS_H
#define RAGLOAD_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

#define PROGRESS_HZ 4
#define PROGRESS_SINK_S 1.0   /* seconds between two lines given to the sink */

void progress_enable(int on);
int progress_enabled(void);
/* Redraws the line with the formatted text unless one was drawn less than 1/PROGRESS_HZ s
 * ago (force: draw anyway, for a change of phase). */
void progress_update(int force, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Someone reads the line: it is drawn, or a sink is set. Callers that build costly text
 * ask this first. */
int progress_wanted(void);
/* fn(ctx, line) with the line's text (drawn or not) at most once every PROGRESS_SINK_S
 * seconds and on every forced update, on the updating thread, one call at a time; NULL
 * stops it (returns after a call under way). */
typedef void (*progress_sink_fn)(void *ctx, const char *line);
void progress_sink(progress_sink_fn fn, void *ctx);
/* keep: end the line with a newline, leaving the last text; else erase it. */
void progress_end(int keep);
/* "1h02m", "3m05s", "42s": an ETA or a duration, into buf (>= 16 bytes). */
const char *progress_duration(double seconds, char *buf, int len);

/*
 * The input meter: how many bytes of the command line's inputs are behind the reader, for a
 * percentage and an ETA (progress.c says how it is measured). meter_start() sizes the inputs
 * on a thread of its own (directories are walked); meter_note() is called for each item read
 * (one thread at a time); meter_done() and meter_total() are 0 while the sizes are unknown.
 * Every function accepts a NULL meter (no progress).
 */
struct input_meter;
/* paths is borrowed and must outlive the meter. NULL when out of memory. */
struct input_meter *meter_start(char *const *paths, int n);
void meter_note(struct input_meter *m, const char *input, size_t raw);
/* Back to the first input, nothing read (a second pass over the same inputs). */
void meter_rewind(struct input_meter *m);
uint64_t meter_done(struct input_meter *m);
uint64_t meter_total(struct input_meter *m);
void meter_free(struct input_meter *m);

#endif
