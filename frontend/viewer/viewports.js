// The viewport grid: 1, 1×2 or 2×2 stack viewports, each showing one series; series are
// dropped onto a viewport from the strip (or tapped: the active viewport takes it).
import { Enums as CoreEnums, utilities as csUtils } from '@cornerstonejs/core';

const LAYOUTS = { '1x1': 1, '1x2': 2, '2x2': 4 };

export class ViewportGrid {
  constructor({ root, renderingEngine, toolGroup, onActivate, onDropSeries, onChange }) {
    this.root = root;
    this.engine = renderingEngine;
    this.toolGroup = toolGroup;
    this.onActivate = onActivate;
    this.onDropSeries = onDropSeries;
    this.onChange = onChange;
    this.cells = []; // { id, element, cell, overlay, series }
    this.activeIndex = 0;
    this.layout = '1x1';
  }

  get active() { return this.cells[this.activeIndex]; }

  setLayout(layout) {
    const count = LAYOUTS[layout] || 1;
    this.layout = layout;
    this.root.dataset.layout = layout;
    while (this.cells.length < count) this._addCell();
    while (this.cells.length > count) this._removeCell();
    if (this.activeIndex >= count) this.activate(0);
    this.engine.resize(true, true);
    return this.cells.slice(0, count);
  }

  _addCell() {
    const index = this.cells.length;
    const id = `viewport-${index}`;
    const cell = document.createElement('div');
    cell.className = 'viewport-cell';
    cell.dataset.viewportIndex = String(index);
    const element = document.createElement('div');
    element.className = 'viewport-element';
    element.oncontextmenu = (e) => e.preventDefault();
    const overlay = document.createElement('div');
    overlay.className = 'viewport-overlay';
    overlay.setAttribute('aria-live', 'off');
    overlay.innerHTML = `
      <div class="ov ov-tl"><span data-ov="patient"></span><span data-ov="species"></span><span data-ov="date"></span></div>
      <div class="ov ov-tr"><span data-ov="series"></span><span data-ov="slice"></span></div>
      <div class="ov ov-bl"><span data-ov="window"></span><span data-ov="zoom"></span></div>
      <div class="ov ov-br"><span data-ov="calibration"></span></div>
      <p class="ov-empty" data-ov="empty">Drag a series here</p>`;
    cell.append(element, overlay);
    this.root.append(cell);
    this.engine.enableElement({
      viewportId: id, type: CoreEnums.ViewportType.STACK, element,
      defaultOptions: { background: [0, 0, 0] },
    });
    this.toolGroup.addViewport(id, this.engine.id);
    const entry = { id, element, cell, overlay, series: null };
    this.cells.push(entry);
    cell.addEventListener('pointerdown', () => this.activate(this.cells.indexOf(entry)), true);
    cell.addEventListener('dragover', (e) => { e.preventDefault(); cell.classList.add('drop-target'); });
    cell.addEventListener('dragleave', () => cell.classList.remove('drop-target'));
    cell.addEventListener('drop', (e) => {
      e.preventDefault();
      cell.classList.remove('drop-target');
      const uid = e.dataTransfer.getData('application/x-series-uid') || e.dataTransfer.getData('text/plain');
      if (uid) {
        this.activate(this.cells.indexOf(entry));
        this.onDropSeries(entry, uid);
      }
    });
    for (const name of [CoreEnums.Events.STACK_NEW_IMAGE, CoreEnums.Events.VOI_MODIFIED,
      CoreEnums.Events.CAMERA_MODIFIED, CoreEnums.Events.IMAGE_RENDERED]) {
      element.addEventListener(name, () => this.onChange(entry));
    }
    if (this.cells.length === 1) this.activate(0);
  }

  _removeCell() {
    const entry = this.cells.pop();
    this.toolGroup.removeViewports(this.engine.id, entry.id);
    this.engine.disableElement(entry.id);
    entry.cell.remove();
  }

  activate(index) {
    if (index < 0 || index >= this.cells.length) return;
    this.activeIndex = index;
    this.cells.forEach((c, i) => c.cell.classList.toggle('active', i === index));
    this.onActivate(this.cells[index]);
  }

  viewport(entry = this.active) {
    return entry ? this.engine.getViewport(entry.id) : null;
  }

  async show(entry, series, index = 0) {
    entry.series = series;
    entry.cell.dataset.seriesUid = series.uid;
    entry.overlay.querySelector('[data-ov="empty"]').hidden = true;
    const viewport = this.viewport(entry);
    await viewport.setStack(series.imageIds, index);
    viewport.render();
    this.onChange(entry);
  }

  scroll(delta, entry = this.active) {
    const viewport = this.viewport(entry);
    if (viewport && entry.series) csUtils.scroll(viewport, { delta });
  }
}
