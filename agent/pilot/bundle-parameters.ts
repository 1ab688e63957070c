// The bundle's entry parameters (ProjectId, VMId, VMType …; issue 15) as the environment
// GlideinWMS gives validation scripts: GLIDEIN_<name>=<value> (e.g. GLIDEIN_VMId).
export function parameterEnv(parameters: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(parameters).map(([name, value]) => [`GLIDEIN_${name}`, value]));
}
