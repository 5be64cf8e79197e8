// The sections of the application, in the order the navigation shows them.
export const sections = [
  { id: 'cases', label: 'Cases', hint: 'Open incidents and their state' },
  { id: 'practice', label: 'Practice', hint: 'Rehearse on the training tenant' },
  { id: 'readiness', label: 'Readiness', hint: 'Can Firebreak act on your tenant today?' },
  { id: 'settings', label: 'Settings', hint: 'Tenant profiles and organisation details' },
] as const

export type SectionId = (typeof sections)[number]['id']
