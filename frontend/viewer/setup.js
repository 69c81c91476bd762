// Starts Cornerstone3D (core, tools, the DICOM image loader) and the one tool group that every
// viewport shares, with mouse and touch bindings.
import { init as coreInit, RenderingEngine, imageLoadPoolManager, Enums as CoreEnums } from '@cornerstonejs/core';
import * as tools from '@cornerstonejs/tools';
import { init as loaderInit } from '@cornerstonejs/dicom-image-loader';
import { VET_TOOLS } from './tools/vetTools.js';

const {
  ToolGroupManager, Enums, WindowLevelTool, PanTool, ZoomTool, StackScrollTool, LengthTool,
  AngleTool, CobbAngleTool, ArrowAnnotateTool, EllipticalROITool, RectangleROITool, LabelTool,
  PlanarRotateTool,
} = tools;

export const TOOL_GROUP_ID = 'portal-viewer';
export const RENDERING_ENGINE_ID = 'portal-engine';

export const MEASURE_TOOLS = [
  LengthTool, AngleTool, CobbAngleTool, ArrowAnnotateTool, EllipticalROITool, RectangleROITool, LabelTool,
];
const NAVIGATION_TOOLS = [WindowLevelTool, PanTool, ZoomTool, StackScrollTool, PlanarRotateTool];

/** Tool name → the portal's name for it (as saved). */
export const CONTRACT_NAMES = {
  Length: 'length', Angle: 'angle', CobbAngle: 'cobb', ArrowAnnotate: 'arrow',
  EllipticalROI: 'ellipse', RectangleROI: 'rectangle', Label: 'text',
  ...Object.fromEntries(VET_TOOLS.map((Tool) => [Tool.toolName, Tool.contractName])),
};
export const TOOL_FOR_CONTRACT = Object.fromEntries(Object.entries(CONTRACT_NAMES).map(([k, v]) => [v, k]));

export async function startCornerstone({ getTextLines, onProgress, askText }) {
  // One WebGL context for every viewport (at most four): each extra context is created and
  // compiled up front, delaying the first image, and they would only render in parallel.
  coreInit({ rendering: { webGlContextCount: 1 } });
  const cores = navigator.hardwareConcurrency || 2;
  loaderInit({ maxWebWorkers: Math.max(1, Math.min(4, cores - 1)) });
  // Enough parallel requests to fill a stack quickly over one connection pool.
  imageLoadPoolManager.setMaxSimultaneousRequests(CoreEnums.RequestType.Interaction, 6);
  imageLoadPoolManager.setMaxSimultaneousRequests(CoreEnums.RequestType.Prefetch, 6);
  tools.init();
  for (const Tool of [...NAVIGATION_TOOLS, ...MEASURE_TOOLS, ...VET_TOOLS]) tools.addTool(Tool);

  const toolGroup = ToolGroupManager.createToolGroup(TOOL_GROUP_ID);
  for (const Tool of NAVIGATION_TOOLS) toolGroup.addTool(Tool.toolName);
  const textCallbacks = {
    getTextCallback: (done) => askText('Text for the arrow:', '', done),
    changeTextCallback: (data, evt, done) => askText('Text for the arrow:', data?.text || '', done),
  };
  for (const Tool of MEASURE_TOOLS) {
    const configuration = { getTextLines: (data, targetId) => getTextLines(Tool.toolName, data, targetId) };
    if (Tool === ArrowAnnotateTool) Object.assign(configuration, textCallbacks);
    if (Tool === LabelTool) {
      configuration.getTextCallback = (done) => askText('Text:', '', done);
      configuration.changeTextCallback = (data, evt, done) => askText('Text:', data?.label || '', done);
    }
    toolGroup.addTool(Tool.toolName, configuration);
  }
  for (const Tool of VET_TOOLS) {
    toolGroup.addTool(Tool.toolName, {
      getTextLines: (annotation) => getTextLines(Tool.toolName, annotation.data, null, annotation),
      onProgress,
    });
  }
  const { MouseBindings } = Enums;
  // Always: right drag zooms, middle drag pans, the wheel scrolls; two fingers pan/zoom.
  toolGroup.setToolActive(ZoomTool.toolName, { bindings: [{ mouseButton: MouseBindings.Secondary }, { numTouchPoints: 2 }] });
  toolGroup.setToolActive(PanTool.toolName, { bindings: [{ mouseButton: MouseBindings.Auxiliary }] });
  toolGroup.setToolActive(StackScrollTool.toolName, { bindings: [{ mouseButton: MouseBindings.Wheel }, { numTouchPoints: 3 }] });
  toolGroup.setToolActive(WindowLevelTool.toolName, { bindings: [{ mouseButton: MouseBindings.Primary }] });
  for (const Tool of [...MEASURE_TOOLS, ...VET_TOOLS]) toolGroup.setToolPassive(Tool.toolName);

  const renderingEngine = new RenderingEngine(RENDERING_ENGINE_ID);
  return { toolGroup, renderingEngine };
}

/** Makes `toolName` the primary button's (and one finger's) tool; the others stay usable. */
export function setPrimaryTool(toolGroup, toolName) {
  const { MouseBindings } = Enums;
  const current = toolGroup.getActivePrimaryMouseButtonTool();
  if (current === toolName) return;
  if (current) {
    const keep = ['Zoom', 'Pan', 'StackScroll'].includes(current);
    if (keep) {
      // Remove only the primary binding; the tool keeps its other bindings.
      const options = toolGroup.getToolOptions(current);
      const bindings = (options?.bindings || []).filter((b) => b.mouseButton !== MouseBindings.Primary);
      toolGroup.setToolActive(current, { bindings });
    } else {
      toolGroup.setToolPassive(current);
    }
  }
  const options = toolGroup.getToolOptions(toolName);
  const others = (options?.bindings || []).filter((b) => b.mouseButton !== MouseBindings.Primary);
  toolGroup.setToolActive(toolName, { bindings: [...others, { mouseButton: MouseBindings.Primary }] });
}
