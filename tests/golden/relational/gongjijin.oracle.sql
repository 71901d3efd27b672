SELECT
  p.id_card AS zjhm,
  p.full_name AS xm,
  c.contribution_month AS jcny,
  c.employer_type AS dwlx,
  CAST(c.base_fen AS VARCHAR2(20)) AS jcjs,
  CAST(c.monthly_fen AS VARCHAR2(20)) AS yjce,
  c.updated_at AS updated_at
FROM hf_contributions c
JOIN hf_persons p
  ON p.person_no = c.person_no
WHERE
  c.updated_at >= :since
ORDER BY
  c.updated_at NULLS FIRST,
  p.id_card NULLS FIRST,
  c.contribution_month NULLS FIRST
