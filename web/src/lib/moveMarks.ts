// MoveMarks says which rows of a ranked list moved up or down since the
// list's previous order, for as long as the marker should show.
//
// Markers belong to one change of order: the next order replaces them (even
// when nothing moved in it), and they clear by themselves after `ms`, so a
// board that keeps changing cannot leave a row marked for good.

export type MoveDir = 'up' | 'down'

export class MoveMarks {
  private order = new Map<string, number>()
  private marks = new Map<string, MoveDir>()
  private timer: ReturnType<typeof setTimeout> | undefined

  constructor(
    private onChange: (marks: Map<string, MoveDir>) => void,
    private ms = 2000,
  ) {}

  // update takes the list's new order (row keys, top first) and returns the
  // markers to show now.
  update(keys: string[]): Map<string, MoveDir> {
    const next = new Map<string, MoveDir>()
    keys.forEach((k, i) => {
      const was = this.order.get(k)
      if (was !== undefined && was !== i) next.set(k, i < was ? 'up' : 'down')
    })
    this.order = new Map(keys.map((k, i) => [k, i]))
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    if (next.size) {
      this.timer = setTimeout(() => {
        this.timer = undefined
        this.set(new Map())
      }, this.ms)
    }
    this.set(next)
    return next
  }

  get current(): Map<string, MoveDir> {
    return this.marks
  }

  dispose(): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
  }

  private set(m: Map<string, MoveDir>) {
    // No new state when nothing was and nothing is marked: a re-render
    // for nothing.
    if (m.size === 0 && this.marks.size === 0) return
    this.marks = m
    this.onChange(m)
  }
}
