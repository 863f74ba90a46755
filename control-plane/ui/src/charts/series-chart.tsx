/** One time-series chart (uPlot): x = time, one or more lines of a series. Rebuilt when the points change. */
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

export interface Line {
  label: string;
  color: string;
  values: (number | null)[];
}

/** `range`: a fixed y range (a percentage is 0..100 whatever the data; uPlot's auto range pads a flat 100 up to 200). */
export function SeriesChart({
  title,
  times,
  lines,
  unit,
  range,
}: {
  title: string;
  times: number[];
  lines: Line[];
  unit: string;
  range?: [number, number];
}) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const plot = new uPlot(
      {
        width: Math.max(320, Math.min(el.clientWidth || 560, 560)),
        height: 180,
        scales: range ? { x: { time: true }, y: { range } } : { x: { time: true } },
        series: [{}, ...lines.map((l) => ({ label: l.label, stroke: l.color, width: 2, spanGaps: false }))],
        axes: [{}, { label: unit, size: 60 }],
        legend: { show: true },
      },
      [times.map((t) => t / 1000), ...lines.map((l) => l.values)],
      el,
    );
    return () => plot.destroy();
  }, [times, lines, unit, range]);
  return (
    <figure class="chart" data-chart={title}>
      <figcaption>{title}</figcaption>
      <div ref={box} />
    </figure>
  );
}
