import { render, screen, fireEvent } from '@testing-library/svelte'
import { describe, expect, it } from 'vitest'
import type { Paper } from '../lib/backend'
import { fakeBackend } from '../test/fakeBackend'
import Host from '../test/Host.svelte'
import PrintRunbook from './PrintRunbook.svelte'

describe('Print runbook', () => {
  it('asks for the configured paper by default and shows where the PDF was written', async () => {
    const asked: (Paper | null)[] = []
    const backend = fakeBackend({
      saveRunbook: async (paper) => {
        asked.push(paper)
        return { status: 'ok', data: { path: '/data/reports/runbook-a4-20260301-234700.pdf' } }
      },
    })
    render(Host, { backend, component: PrintRunbook })
    await fireEvent.click(screen.getByRole('button', { name: 'Save runbook as PDF' }))
    expect((await screen.findByTestId('runbook-path')).textContent).toBe(
      '/data/reports/runbook-a4-20260301-234700.pdf',
    )
    await fireEvent.change(screen.getByLabelText('Paper'), { target: { value: 'letter' } })
    await fireEvent.click(screen.getByRole('button', { name: 'Save runbook as PDF' }))
    await screen.findByTestId('runbook-path')
    expect(asked).toEqual([null, 'letter'])
  })

  it('shows the error instead of a path when writing fails', async () => {
    const backend = fakeBackend({
      saveRunbook: async () => ({ status: 'error', error: { kind: 'storage', message: 'disk is full' } }),
    })
    render(Host, { backend, component: PrintRunbook })
    await fireEvent.click(screen.getByRole('button', { name: 'Save runbook as PDF' }))
    expect((await screen.findByRole('alert')).textContent).toContain('disk is full')
    expect(screen.queryByTestId('runbook-path')).toBeNull()
  })
})
