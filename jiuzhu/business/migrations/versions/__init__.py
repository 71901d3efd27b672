"""Migration scripts, applied in revision order by ``jiuzhu.business.db.upgrade``."""
