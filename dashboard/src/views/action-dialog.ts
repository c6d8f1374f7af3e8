/**
 * Confirming and running one action: a modal dialog (keyboard: Tab, Enter, Escape). A switchover
 * shows the dry-run plan and its reasons first; dangerous actions want the target's name typed.
 * The RD is shown when the action ends; a FAIL says why.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { call } from '../api';
import type { ActionSpec } from '../actions';
import { html } from '../html';
import type { Rd } from '../types';

interface Props {
  action: ActionSpec;
  /** The server acted on ('' for cluster actions). */
  server: string;
  onClose: () => void;
  onResult: (label: string, rd: Rd) => void;
}

interface Plan {
  steps?: string[];
  candidates?: string[];
  refusals?: { name: string; reason: string }[];
}

type Stage = { kind: 'planning' } | { kind: 'confirm'; plan: Rd | null } | { kind: 'running' } | { kind: 'done'; rd: Rd };

export function ActionDialog({ action, server, onClose, onResult }: Props) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [stage, setStage] = useState<Stage>(action.confirm === 'plan' ? { kind: 'planning' } : { kind: 'confirm', plan: null });
  const [typed, setTyped] = useState('');
  const title = `${action.label}${server ? ` ${server}` : ''}`;

  useEffect(() => {
    dialog.current?.showModal();
    if (action.confirm !== 'plan') return;
    void call(action.operation, { ...action.params(server), dry_run: true }).then((plan) => setStage({ kind: 'confirm', plan }));
  }, []);

  const needsName = action.confirm !== 'click';
  const planFailed = stage.kind === 'confirm' && stage.plan !== null && stage.plan.result === 'FAIL';
  const ready = stage.kind === 'confirm' && !planFailed && (!needsName || typed === server);

  const run = async (event: Event): Promise<void> => {
    event.preventDefault();
    if (!ready) return;
    setStage({ kind: 'running' });
    const rd = await call(action.operation, action.params(server));
    setStage({ kind: 'done', rd });
    onResult(title, rd);
  };

  const plan = stage.kind === 'confirm' && stage.plan ? (stage.plan['plan'] as Plan | undefined) : undefined;
  return html`<dialog ref=${dialog} class="action-dialog" aria-labelledby="action-title" onClose=${onClose} onCancel=${onClose}>
    <form method="dialog" onSubmit=${run}>
      <h2 id="action-title">${title}</h2>
      <p>${action.explain}</p>
      ${stage.kind === 'planning' ? html`<p class="muted" role="status">Asking for the dry-run plan…</p>` : null}
      ${stage.kind === 'confirm' && stage.plan ? html`<section class=${`plan ${stage.plan.result === 'FAIL' ? 'fail' : 'ok'}`} data-testid="plan">
        <h3>Dry-run plan</h3>
        <p class="rd-details">${stage.plan.details}</p>
        ${plan?.steps?.length ? html`<ol class="plan-steps">${plan.steps.map((s) => html`<li>${s}</li>`)}</ol>` : null}
        ${plan?.refusals?.length ? html`<h4>Not chosen</h4><ul>${plan.refusals.map((r) => html`<li><b>${r.name}</b>: ${r.reason}</li>`)}</ul>` : null}
      </section>` : null}
      ${stage.kind === 'confirm' && needsName && !planFailed ? html`<label class="typed">Type <b>${server}</b> to confirm
        <input name="confirm-name" autocomplete="off" spellcheck="false" value=${typed} onInput=${(e: Event) => setTyped((e.target as HTMLInputElement).value)} autofocus />
      </label>` : null}
      ${stage.kind === 'running' ? html`<p role="status" class="muted">Running ${action.operation}…</p>` : null}
      ${stage.kind === 'done' ? html`<p role="status" class=${`rd ${stage.rd.result === 'SUCCESS' ? 'ok' : 'fail'}`} data-testid="rd"><b>${stage.rd.result}</b> ${stage.rd.details}</p>` : null}
      <div class="buttons">
        ${stage.kind === 'done' ? null : html`<button type="submit" class="danger" data-testid="confirm" disabled=${!ready}>${action.label}</button>`}
        <button type="button" onClick=${() => dialog.current?.close()}>${stage.kind === 'done' ? 'Close' : 'Cancel'}</button>
      </div>
    </form>
  </dialog>`;
}
