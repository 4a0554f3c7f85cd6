INSERT INTO sqid_set_rule VALUES ($min_supp_judgements, now())
