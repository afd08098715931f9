/// <reference lib="dom" />
/**
 * Rate charts (uPlot, bundled at build time): time on x, one line per series. A chart is
 * rebuilt when its set of series changes (uPlot's series are fixed at creation).
 * @module
 */
import uPlot from "uplot";

const COLORS = [
  "#2f7ed8",
  "#e4572e",
  "#29a36a",
  "#b46cd8",
  "#f3a712",
  "#17a2b8",
  "#666",
  "#d84b8a",
];

/** One chart in a container element. */
export class RateChart {
  readonly #host: HTMLElement;
  #plot: uPlot | null = null;
  #names = "";

  /** Draws into `host` (its width is the chart's). */
  constructor(host: HTMLElement) {
    this.#host = host;
  }

  /** Shows `series` (name -> per-second rates aligned with `times`, seconds). */
  update(times: number[], series: ReadonlyMap<string, number[]>): void {
    const names = [...series.keys()];
    const data = [times, ...names.map((n) => series.get(n)!)] as uPlot.AlignedData;
    const key = names.join("\u0000");
    const width = Math.max(300, this.#host.clientWidth || 600);
    if (!this.#plot || key !== this.#names) {
      this.#plot?.destroy();
      this.#names = key;
      this.#plot = new uPlot(
        {
          width,
          height: 180,
          scales: { y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
          axes: [{}, { label: "per s", size: 60 }],
          series: [
            {},
            ...names.map((label, i) => ({
              label,
              stroke: COLORS[i % COLORS.length],
              width: 2,
              value: (_u: uPlot, v: number | null) => v === null ? "-" : v.toFixed(1),
            })),
          ],
        },
        data,
        this.#host,
      );
      return;
    }
    if (this.#plot.width !== width) this.#plot.setSize({ width, height: 180 });
    this.#plot.setData(data);
  }
}
