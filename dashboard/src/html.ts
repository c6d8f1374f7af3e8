/** Preact with htm: tagged templates instead of JSX, so no JSX build step; text is always escaped. */
import { h } from 'preact';
import htm from 'htm';

export const html = htm.bind(h);
