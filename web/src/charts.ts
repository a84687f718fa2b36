// Apache ECharts, only the parts the dashboard draws, bundled (no CDN).
import { BarChart } from "echarts/charts";
import { GridComponent, LegendComponent, TooltipComponent, AriaComponent } from "echarts/components";
import * as echarts from "echarts/core";
import { SVGRenderer } from "echarts/renderers";

import { compact } from "./format";

echarts.use([BarChart, GridComponent, LegendComponent, TooltipComponent, AriaComponent, SVGRenderer]);

const PALETTE = ["#2563eb", "#d97706", "#059669", "#dc2626", "#7c3aed", "#0891b2", "#db2777", "#4b5563", "#65a30d", "#9333ea"];

const charts = new Map<HTMLElement, echarts.ECharts>();

function chartOn(el: HTMLElement): echarts.ECharts {
  let chart = charts.get(el);
  if (!chart || chart.isDisposed()) {
    chart = echarts.init(el, undefined, { renderer: "svg" });
    charts.set(el, chart);
  }
  return chart;
}

/** Disposes charts whose element left the page. */
export function sweep(): void {
  for (const [el, chart] of charts) {
    if (!el.isConnected) {
      chart.dispose();
      charts.delete(el);
    }
  }
}

window.addEventListener("resize", () => charts.forEach((c) => c.resize()));

export interface Series {
  name: string;
  values: number[];
}

/** Stacked columns over categories (days, months). */
export function stacked(el: HTMLElement, categories: string[], series: Series[], label: string): void {
  const chart = chartOn(el);
  chart.setOption(
    {
      color: PALETTE,
      aria: { enabled: true, label: { description: label } },
      animation: false,
      tooltip: {
        trigger: "axis",
        valueFormatter: (v: unknown) => (typeof v === "number" ? `$${v.toLocaleString("en-US", { maximumFractionDigits: 2 })}` : String(v)),
      },
      legend: { top: 0, type: "scroll" },
      grid: { left: 56, right: 16, top: 36, bottom: 28 },
      xAxis: { type: "category", data: categories },
      yAxis: { type: "value", axisLabel: { formatter: (v: number) => compact(v) } },
      series: series.map((s) => ({ name: s.name, type: "bar", stack: "total", data: s.values, barMaxWidth: 28 })),
    },
    true,
  );
}

/** Horizontal bars, largest on top. */
export function ranking(el: HTMLElement, labels: string[], values: number[], label: string): void {
  const chart = chartOn(el);
  chart.setOption(
    {
      color: PALETTE,
      aria: { enabled: true, label: { description: label } },
      animation: false,
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      grid: { left: 8, right: 24, top: 8, bottom: 8, containLabel: true },
      xAxis: { type: "value", axisLabel: { formatter: (v: number) => compact(v) } },
      yAxis: { type: "category", data: [...labels].reverse(), axisLabel: { width: 160, overflow: "truncate" } },
      series: [{ type: "bar", data: [...values].reverse(), barMaxWidth: 18 }],
    },
    true,
  );
}

/** How many data points a chart element draws (for tests and screen readers). */
export function pointCount(el: HTMLElement): number {
  const option = charts.get(el)?.getOption() as { series?: { data?: unknown[] }[] } | undefined;
  return (option?.series ?? []).reduce((n, s) => n + (s.data?.length ?? 0), 0);
}
