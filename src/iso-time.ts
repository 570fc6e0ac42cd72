/**
 * The ISO 8601 text of an epoch time (ms), remembering the last one asked for: an SMS's times repeat from one
 * status event to the next, and the SMS of one group commit share theirs, while `Date#toISOString` costs a Date
 * and a string each time (six per SMS in benchmark 2). One entry: one memo per field that is formatted.
 */
export class IsoMemo {
  private ms = Number.NaN;
  private text = '';

  /** Throws a RangeError for a time that is not a valid date, as `toISOString` does. */
  of(ms: number): string {
    if (ms !== this.ms) {
      this.text = new Date(ms).toISOString();
      this.ms = ms;
    }
    return this.text;
  }
}
