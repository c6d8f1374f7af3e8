/** Entry point of the bundle. */
import { render } from 'preact';
import { html } from './html';
import { App } from './app';
import 'uplot/dist/uPlot.min.css';
import '../style.css';

render(html`<${App} />`, document.getElementById('app') as HTMLElement);
