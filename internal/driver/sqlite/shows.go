package sqlite

// showCols selects a show with its hosts in order; s is shows.
const showCols = `s.id, s.brand_id, s.title, s.description, s.kind, s.visibility, s.state,
	s.starts_at, s.ends_at, s.time_zone, s.hold_seconds, s.cover_url, s.created_at, s.updated_at,
	s.went_live_at, s.ended_at,
	(SELECT json_group_array(h.user_id ORDER BY h.position) FROM show_hosts h WHERE h.show_id = s.id),
	(SELECT json_group_array(d.day ORDER BY d.day) FROM pavilion_days d WHERE d.show_id = s.id)`
