import { fireEvent, render, screen, waitFor } from '@testing-library/svelte'
import { describe, expect, it } from 'vitest'
import type { Lessons, ReportPreview, SavedReportFiles } from '../lib/backend'
import { fakeBackend } from '../test/fakeBackend'
import TestHost from './TestHost.svelte'

const caseId = '20260301-2215-abc123'
const hostileSvg =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 595.28 841.89"><path id="g0-1" d="M0 0L1 1Z"/></svg>'

function preview(overrides: Partial<ReportPreview> = {}): ReportPreview {
  return {
    svg: hostileSvg,
    pages: 7,
    paper: 'a4',
    lessons: { wentWell: 'Revoked within 20 minutes.', toImprove: '', followUps: '' },
    ...overrides,
  }
}

const files: SavedReportFiles = {
  pdf: '/data/exports/20260301-2215-abc123-incident-report-20260302-090000.pdf',
  csv: '/data/exports/20260301-2215-abc123-incident-report-20260302-090000.timeline.csv',
  jsonl: '/data/exports/20260301-2215-abc123-incident-report-20260302-090000.timeline.jsonl',
  pages: 7,
}

describe('Report step', () => {
  it('shows the first page as an image of the SVG, the page count and the recorded lessons', async () => {
    const asked: string[] = []
    const backend = fakeBackend({
      reportPreview: async (id) => {
        asked.push(id)
        return { status: 'ok', data: preview() }
      },
    })
    render(TestHost, { backend, caseId })
    const img = (await screen.findByTestId('report-preview')) as HTMLImageElement
    expect(img.tagName).toBe('IMG')
    expect(img.getAttribute('src')).toBe(`data:image/svg+xml;charset=utf-8,${encodeURIComponent(hostileSvg)}`)
    expect(screen.getByText(/Page 1 of 7 · A4/)).toBeTruthy()
    expect((screen.getByTestId('lesson-went-well') as HTMLTextAreaElement).value).toBe('Revoked within 20 minutes.')
    expect(asked).toEqual([caseId])
    // The SVG never becomes part of the page's own markup.
    expect(document.querySelector('svg path#g0-1')).toBeNull()
  })

  it('saves the lessons learned as typed', async () => {
    const saved: Lessons[] = []
    const backend = fakeBackend({
      reportPreview: async () => ({ status: 'ok', data: preview() }),
      saveLessons: async (_id, lessons) => {
        saved.push(lessons)
        return { status: 'ok', data: true }
      },
    })
    render(TestHost, { backend, caseId })
    await screen.findByTestId('report-preview')
    await fireEvent.input(screen.getByTestId('lesson-to-improve'), {
      target: { value: 'The alert sat unread for four hours.' },
    })
    await fireEvent.input(screen.getByTestId('lesson-follow-ups'), {
      target: { value: 'Number matching — Sam, Friday' },
    })
    await fireEvent.click(screen.getByRole('button', { name: 'Save lessons learned' }))
    expect((await screen.findByRole('status')).textContent).toContain('saved in the case journal')
    expect(saved).toEqual([
      {
        wentWell: 'Revoked within 20 minutes.',
        toImprove: 'The alert sat unread for four hours.',
        followUps: 'Number matching — Sam, Friday',
      },
    ])
  })

  it('saves the report, then opens the saved PDF; Open is disabled until there is one', async () => {
    const opened: string[] = []
    const backend = fakeBackend({
      reportPreview: async () => ({ status: 'ok', data: preview() }),
      saveReport: async () => ({ status: 'ok', data: files }),
      openReport: async (path) => {
        opened.push(path)
        return { status: 'ok', data: null }
      },
    })
    render(TestHost, { backend, caseId })
    await screen.findByTestId('report-preview')
    const open = screen.getByTestId('open-report') as HTMLButtonElement
    expect(open.disabled).toBe(true)
    await fireEvent.click(screen.getByTestId('save-report'))
    expect((await screen.findByTestId('report-pdf-path')).textContent).toBe(files.pdf)
    expect(screen.getByText(files.csv)).toBeTruthy()
    await waitFor(() => expect(open.disabled).toBe(false))
    await fireEvent.click(open)
    await waitFor(() => expect(opened).toEqual([files.pdf]))
  })

  it('prints by saving first and opening the PDF in the system viewer', async () => {
    const calls: string[] = []
    const backend = fakeBackend({
      reportPreview: async () => ({ status: 'ok', data: preview({ paper: 'letter' }) }),
      saveReport: async () => {
        calls.push('save')
        return { status: 'ok', data: files }
      },
      openReport: async (path) => {
        calls.push(`open ${path}`)
        return { status: 'ok', data: null }
      },
    })
    render(TestHost, { backend, caseId })
    expect((await screen.findByText(/Page 1 of 7 · US Letter/)).textContent).toBeTruthy()
    await fireEvent.click(screen.getByTestId('print-report'))
    expect((await screen.findByRole('status')).textContent).toContain('print it from there')
    expect(calls).toEqual(['save', `open ${files.pdf}`])
  })

  it('shows why the report could not be made instead of a preview', async () => {
    const backend = fakeBackend({
      reportPreview: async () => ({ status: 'error', error: { kind: 'failed', message: 'case not found' } }),
    })
    render(TestHost, { backend, caseId })
    expect((await screen.findByRole('alert')).textContent).toContain('case not found')
    expect(screen.queryByTestId('report-preview')).toBeNull()
  })

  it('keeps the lessons read-only on a read-only case', async () => {
    const backend = fakeBackend({
      reportPreview: async () => ({ status: 'ok', data: preview() }),
    })
    render(TestHost, { backend, caseId, readOnly: true })
    await screen.findByTestId('report-preview')
    expect((screen.getByTestId('lesson-went-well') as HTMLTextAreaElement).disabled).toBe(true)
    expect(screen.queryByRole('button', { name: 'Save lessons learned' })).toBeNull()
  })
})
